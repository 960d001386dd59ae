"""The embedded MQTT broker (amqtt): a fresh machine needs no Mosquitto to run homeflow."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import BrokerConfig, ListenerConfig
from amqtt.errors import BrokerError

from homeflow.errors import HomeflowError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PROBE_TIMEOUT_S = 1.0


class EmbeddedBrokerError(HomeflowError):
    """The embedded broker could not listen where the settings ask."""


async def is_listening(port: int, host: str = HOST) -> bool:
    """True when something accepts TCP connections on `host:port` (a broker, presumably)."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class _Broker(Broker):  # type: ignore[misc]  # amqtt has no type information
    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Any
    ) -> None:
        # amqtt 0.12.1 calls this at every connect with *every* client's topic filters, so a new client got
        # retained messages it never subscribed to (homeflow's discovery configs, say). Only a filter of
        # the session's own may deliver them.
        holders = self._subscriptions.get(subscription[0], ())
        if any(held.client_id == session.client_id for held, _ in holders):
            await super()._publish_retained_messages_for_subscription(subscription, session)


class EmbeddedBroker:
    """An anonymous MQTT 3.1.1 broker on loopback only, for this machine's homeflow and its neighbours."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run(self, ready: asyncio.Future[None]) -> None:
        """Listen until `stop()`; `ready` is resolved once the port is bound, or fails with the reason."""
        # Anonymous on loopback, and without the $SYS and packet-logging plugins amqtt loads by default.
        config = BrokerConfig(
            listeners={"default": ListenerConfig(bind=f"{HOST}:{self.port}")},
            plugins={"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        )
        if not log.isEnabledFor(logging.DEBUG):
            # amqtt logs each session at INFO and a failed bind with a traceback; homeflow says it in a line.
            # Its state machine library logs every transition at INFO.
            for noisy in ("amqtt", "transitions"):
                logging.getLogger(noisy).setLevel(logging.CRITICAL)
        broker = _Broker(config)
        try:
            await broker.start()
        except BrokerError as exc:
            cause = exc.__cause__ or exc
            where = f"{HOST}:{self.port}"
            ready.set_exception(
                EmbeddedBrokerError(f"cannot start the embedded MQTT broker on {where}: {cause}")
            )
            return
        log.info("embedded MQTT broker listening on %s:%d", HOST, self.port)
        ready.set_result(None)
        try:
            await self._stop.wait()
        finally:
            # Also on cancellation (another task failed): the port must be free for the next start.
            await broker.shutdown()
            log.debug("embedded MQTT broker stopped")

    async def start(self, tasks: asyncio.TaskGroup) -> None:
        """Serve as a task of `tasks`; returns once the port is bound."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = tasks.create_task(self.run(ready), name="mqtt broker")
        await ready

    async def close(self) -> None:
        """Stop and wait until the port is released."""
        self._stop.set()
        if self._task is not None:
            await asyncio.wait((self._task,))


async def start_embedded_broker(port: int, tasks: asyncio.TaskGroup) -> EmbeddedBroker | None:
    """Use the broker already listening on the port, or start one owned by `tasks`; None when reused."""
    if await is_listening(port):
        log.info("using the MQTT broker already listening on %s:%d", HOST, port)
        return None
    broker = EmbeddedBroker(port)
    await broker.start(tasks)
    return broker
