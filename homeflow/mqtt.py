"""One MQTT connection for the whole service: routing by topic filter, reconnect with backoff."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from homeflow import jsontext
from homeflow.settings.model import MqttSettings

log = logging.getLogger(__name__)

Handler = Callable[[aiomqtt.Message], Awaitable[None]]
ConnectHook = Callable[[], Awaitable[None]]

ONLINE, OFFLINE = "online", "offline"
BACKOFF_S = (1, 2, 5, 10, 30)
# A publish waits for the broker's acknowledgement at most this long: a lost one must not hold up a
# run's end or the shutdown (the state is published again on reconnect).
PUBLISH_TIMEOUT_S = 3.0
# QoS 1 messages sent and not yet acknowledged: a burst of cues from many rooms goes out in one
# round trip (paho's default window is 20).
MAX_INFLIGHT = 100
# A broker that drops the connection this soon after it was made, TAKEOVER_AFTER times in a row with a
# successful reconnect each time, is handing the client id to another client and back: two clients
# with one id knock each other off (MQTT allows one session per id).
SHORT_LIVED_S = 5.0
TAKEOVER_AFTER = 4
# Far above anything homeflow subscribes to (a Zigbee2MQTT device state is well under 2 KiB): a bigger
# message is dropped before any handler parses it.
MAX_PAYLOAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class _Route:
    topic_filter: str
    handler: Handler
    qos: int
    # What every matching topic starts with: the filter's levels before its first wildcard. Checked
    # first, it spares the full match (microseconds) for most routes of each message, which counts when
    # the broker sends thousands of retained messages ahead of a button press.
    literal: str = field(init=False)

    def __post_init__(self) -> None:
        levels = self.topic_filter.split("/")
        if levels[0] == "$share":
            levels = []
        fixed = itertools.takewhile(lambda level: level not in ("+", "#"), levels)
        object.__setattr__(self, "literal", "/".join(fixed))


# CONNACK codes for credentials the broker does not accept: MQTT 3.1.1's 4 and 5, MQTT 5's 134 and 135.
NOT_AUTHORIZED = frozenset({4, 5, 134, 135})


def _why(exc: aiomqtt.MqttError) -> str:
    """What went wrong with the connection, and what to do, after the broker's address."""
    code = getattr(exc, "rc", None)
    if isinstance(exc, MqttConnectError) and getattr(code, "value", code) in NOT_AUTHORIZED:
        # Not "is the broker running?": it is, and it said no to the username and password.
        return " refused homeflow: not authorized; check mqtt.username and mqtt.password"
    hint = "; is the broker running?" if "refused" in str(exc).lower() else ""
    return f": {exc}{hint}"


def payload_text(message: aiomqtt.Message) -> str:
    """The payload as text, for logs and parsing; bytes that are not UTF-8 are shown escaped."""
    payload = message.payload
    if isinstance(payload, bytes | bytearray):
        return bytes(payload).decode("utf-8", errors="backslashreplace")
    return "" if payload is None else str(payload)


def describe(message: aiomqtt.Message, limit: int = 120) -> str:
    """`topic 'payload'` for a warning line, with long payloads cut."""
    text = payload_text(message)
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text)} chars)"
    return f"{message.topic.value} {text!r}"


def client_for(s: MqttSettings, identifier: str, will: aiomqtt.Will | None = None) -> aiomqtt.Client:
    """A client for the broker the settings name (credentials, TLS), not yet connected."""
    tls = None
    if s.tls is not None:
        tls = aiomqtt.TLSParameters(
            ca_certs=str(s.tls.ca_file) if s.tls.ca_file else None,
            certfile=str(s.tls.cert_file) if s.tls.cert_file else None,
            keyfile=str(s.tls.key_file) if s.tls.key_file else None,
        )
    client = aiomqtt.Client(
        s.host,
        s.port,
        username=s.username,
        password=s.password,
        identifier=identifier,
        keepalive=s.keepalive,
        will=will,
        tls_params=tls,
        tls_insecure=s.tls.insecure if s.tls else None,
        timeout=10,
        max_inflight_messages=MAX_INFLIGHT,
        # Small messages go out at once: without it a button's light command can wait for a
        # delayed ACK (tens of milliseconds).
        socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
    )
    client.pending_calls_threshold = MAX_INFLIGHT  # a full window is expected, not a warning
    return client


class MqttConnection:
    """Owns the broker connection. Register routes and connect hooks before `run()`; `run()` connects,
    subscribes to exactly the routed filters, dispatches messages, and reconnects until cancelled."""

    def __init__(self, settings: MqttSettings, status_topic: str | None = None) -> None:
        self.settings = settings
        self.status_topic = status_topic or f"{settings.base_topic}/status"
        self.connected = asyncio.Event()
        self._routes: list[_Route] = []
        self._hooks: list[ConnectHook] = []
        self._client: aiomqtt.Client | None = None
        self._failed_on: aiomqtt.Client | None = None  # the connection a publish last failed on

    def route(self, topic_filter: str, handler: Handler, *, qos: int = 1) -> None:
        """Send messages on `topic_filter` to `handler`; `qos` 0 for bulk that needs no acknowledgement."""
        self._routes.append(_Route(topic_filter, handler, qos))

    def on_connect(self, hook: ConnectHook) -> None:
        """Run `hook` after every (re)connect, e.g. to publish retained state again."""
        self._hooks.append(hook)

    async def publish(self, topic: str, payload: str | dict[str, Any], *, retain: bool = False) -> bool:
        """Publish at QoS 1; False (with a debug line) while offline: state is published again on connect."""
        try:
            data = payload if isinstance(payload, str) else jsontext.dumps(payload, compact=True)
        except ValueError as exc:  # NaN or Infinity: no receiver could read it
            log.warning("not published to %s: %s: %r", topic, exc, payload)
            return False
        client = self._client
        if client is None or not self.connected.is_set():
            log.debug("offline, not published: %s %s", topic, data)
            return False
        try:
            await client.publish(topic, data, qos=1, retain=retain, timeout=PUBLISH_TIMEOUT_S)
        except aiomqtt.MqttError as exc:
            # Many messages may be in flight when a connection fails: one line says so.
            if self._failed_on is client:
                log.debug("cannot publish to %s: %s", topic, exc)
            else:
                self._failed_on = client
                log.warning("cannot publish to %s: %s (more on this connection: debug log)", topic, exc)
            return False
        return True

    def _client_for(self) -> aiomqtt.Client:
        will = aiomqtt.Will(self.status_topic, OFFLINE, qos=1, retain=True)
        return client_for(self.settings, self.settings.client_id, will)

    async def run(self) -> None:
        """Stay connected until cancelled: a lost broker is retried with growing pauses."""
        failures = 0
        taken_over = 0  # connections in a row dropped soon after they were made, with no refusal between
        where = f"{self.settings.host}:{self.settings.port}"
        loop = asyncio.get_running_loop()
        while True:
            client = self._client_for()
            connected_at: float | None = None
            try:
                async with client:
                    connected_at = loop.time()
                    self._client = client
                    wanted: dict[str, int] = {}
                    for r in self._routes:
                        wanted[r.topic_filter] = max(r.qos, wanted.get(r.topic_filter, 0))
                    for topic_filter, qos in wanted.items():
                        await client.subscribe(topic_filter, qos=qos)
                    await client.publish(self.status_topic, ONLINE, qos=1, retain=True)
                    self.connected.set()
                    if failures:
                        log.info("reconnected to MQTT broker %s", where)
                    else:
                        log.info("connected to MQTT broker %s as %s", where, self.settings.client_id)
                    failures = 0
                    for hook in self._hooks:
                        await hook()
                    async for message in client.messages:
                        await self._dispatch(message)
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                if connected_at is not None and loop.time() - connected_at < SHORT_LIVED_S:
                    taken_over += 1
                else:
                    taken_over = 0  # refused, or it lasted: a broker that went away, not a twin
                # Past the hint, each further take-over waits longer: the other client works meanwhile.
                backoff = max(failures, taken_over - TAKEOVER_AFTER + 1)
                delay = BACKOFF_S[min(backoff, len(BACKOFF_S) - 1)]
                failures += 1
                if taken_over == TAKEOVER_AFTER:
                    log.error(
                        "MQTT broker %s drops homeflow right after each connect: another client uses the "
                        "same mqtt.client_id %r (another homeflow?); give each its own client_id",
                        where,
                        self.settings.client_id,
                    )
                log.warning("MQTT broker %s%s (retrying in %d s)", where, _why(exc), delay)
                await asyncio.sleep(delay)
            finally:
                self.connected.clear()
                self._client = None

    async def close(self) -> None:
        """Say `offline` ourselves before leaving (the Last Will only covers a lost connection)."""
        client = self._client
        if client is not None and self.connected.is_set():
            try:
                await client.publish(self.status_topic, OFFLINE, qos=1, retain=True)
            except aiomqtt.MqttError as exc:
                log.debug("could not publish offline: %s", exc)

    async def _dispatch(self, message: aiomqtt.Message) -> None:
        payload = message.payload
        if isinstance(payload, bytes | bytearray) and not payload:
            return  # how MQTT deletes a retained message; no handler has anything to do with it
        if isinstance(payload, bytes | bytearray) and len(payload) > MAX_PAYLOAD_BYTES:
            log.warning("message of %d bytes dropped: %s", len(payload), describe(message))
            return
        topic = message.topic.value
        for route in self._routes:
            if topic.startswith(route.literal) and message.topic.matches(route.topic_filter):
                try:
                    await route.handler(message)
                except Exception:
                    # Bad input from the network must never end the service.
                    log.warning(
                        "message not handled: %s", describe(message), exc_info=log.isEnabledFor(logging.DEBUG)
                    )
