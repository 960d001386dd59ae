"""homeflow served in-process against a test broker: its settings, a subscriber that records every message,
and a barrier that tells when homeflow has handled everything sent so far."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt

from homeflow.clock import Clock, LoopClock
from homeflow.service import serve
from homeflow.settings import load

from .conftest import REPO
from .mosquitto import Broker
from .tasks import cancel_and_wait

WITHIN_S = 15  # for anything a helper waits on

SHORT_ROUTINE = """\
name: Short
ambience: {brightness: 35, transition: 4, color_temperature: warm}
steps:
  - title: Begin
    do:
      - say: Settle in.
      - wait: {seconds: 3}
  - title: Close
    do:
      - light: {brightness: 50, transition: 2}
      - say: Done.
"""


def shipped_routine(edits: Mapping[str, str] | None = None, file: str = "back-massage.yaml") -> str:
    """The back-massage routine homeflow ships (or its German `back-massage-de.yaml`), each `old: new`
    of `edits` replaced (each must be in it)."""
    routine = (REPO / "homeflow/defaults/routines" / file).read_text()
    for old, new in (edits or {}).items():
        assert old in routine, old
        routine = routine.replace(old, new)
    return routine


def write_settings(
    folder: Path,
    broker: Broker,
    prefix: str,
    body: str = "",
    routines: Mapping[str, str] | None = None,
    *,
    mqtt: Mapping[str, Any] | None = None,
    home_assistant: Mapping[str, Any] | None = None,
    http: Mapping[str, Any] | None = None,
    cache: Path | None = None,
) -> Path:
    """`folder/homeflow.yaml` for homeflow on `broker` with all its topics under `prefix` (its own under
    `prefix/hf`, Zigbee2MQTT's under `prefix/z2m`, discovery under `prefix/ha`), any free HTTP port, the
    journal `journal.db` and speech in `cache` (else `folder/cache`), then `body` (lights, speakers,
    automations…); and `folder/routines/ID.yaml` for each routine. `mqtt`, `home_assistant` and `http`
    add keys to those sections, or replace them."""
    (folder / "routines").mkdir(parents=True, exist_ok=True)
    for routine_id, text in (routines or {}).items():
        (folder / "routines" / f"{routine_id}.yaml").write_text(text)
    sections = {
        "mqtt": {
            "host": broker.host,
            "port": broker.port,
            "base_topic": f"{prefix}/hf",
            "client_id": f"{prefix}-hf",
            **(mqtt or {}),
        },
        "zigbee2mqtt": {"base_topic": f"{prefix}/z2m"},
        "home_assistant": {"discovery_prefix": f"{prefix}/ha", **(home_assistant or {})},
        "http": {"port": 0, **(http or {})},  # port 0: test runs may overlap on one machine
        "journal": "journal.db",
        "cache": str(cache or folder / "cache"),
    }
    config = folder / "homeflow.yaml"
    # JSON is YAML: each section on one line, every value quoted as it must be.
    config.write_text("".join(f"{key}: {json.dumps(value)}\n" for key, value in sections.items()) + body)
    return config


def recording_player(folder: Path) -> Path:
    """A local speaker's player that plays nothing and appends each clip's path to `folder/played.log`."""
    player = folder / "player.sh"
    player.write_text(f'#!/bin/sh\necho "$1" >> {folder}/played.log\n')
    player.chmod(0o755)
    return player


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool

    @property
    def text(self) -> str:
        return self.payload.decode()

    @property
    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class Collector:
    """Every message on the subscribed filters, in arrival order."""

    client: aiomqtt.Client
    messages: list[Message] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # the wall time each message arrived
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def collect(self) -> None:
        async for message in self.client.messages:
            assert isinstance(message.payload, bytes)
            self.times.append(time.time())  # first: a message seen has its time
            self.messages.append(Message(message.topic.value, message.payload, message.retain))
            self.arrived.set()

    async def wait_for(
        self,
        topic: str,
        check: Callable[[Message], bool] = lambda m: True,
        *,
        since: int = 0,
        within: float = WITHIN_S,
    ) -> Message:
        """The first message on `topic` (exactly) from index `since` on that passes `check`."""
        async with asyncio.timeout(within):
            while True:
                for message in self.messages[since:]:
                    if message.topic == topic and check(message):
                        return message
                self.arrived.clear()
                await self.arrived.wait()

    async def wait_until(self, done: Callable[[], bool], *, within: float = WITHIN_S) -> None:
        """Until `done()` holds, checked after every message."""
        async with asyncio.timeout(within):
            while not done():
                self.arrived.clear()
                await self.arrived.wait()

    def on(self, topic: str, *, since: int = 0) -> list[Message]:
        return [m for m in self.messages[since:] if m.topic == topic]

    def payloads(self, topic: str, *, since: int = 0) -> list[Any]:
        """The JSON payloads on `topic`, from index `since` on."""
        return [m.json for m in self.on(topic, since=since)]


@contextlib.asynccontextmanager
async def collecting(broker: Broker, name: str, *filters: str, **client: Any) -> AsyncIterator[Collector]:
    """A client `name` subscribed to `filters`, collecting until the block ends; `client` are more
    arguments for `aiomqtt.Client` (credentials, TLS)."""
    async with aiomqtt.Client(broker.host, broker.port, identifier=name, **client) as mqtt:
        for topic_filter in filters:
            await mqtt.subscribe(topic_filter, qos=1)
        collector = Collector(mqtt)
        task = asyncio.create_task(collector.collect())
        try:
            yield collector
        finally:
            await cancel_and_wait(task)


async def first_messages(broker: Broker, name: str, topic_filter: str) -> list[Message]:
    """What a new client subscribed to `topic_filter` receives before its own marker comes back: the
    retained messages (the broker sends them right after a SUBSCRIBE, so ahead of a later publish)."""
    marker = f"{name}/marker"
    async with collecting(broker, name, topic_filter, marker) as fresh:
        await fresh.client.publish(marker, "end", qos=1)
        end = await fresh.wait_for(marker)
    return fresh.messages[: fresh.messages.index(end)]


async def retained(broker: Broker, name: str, topic_filter: str) -> dict[str, str]:
    """The retained messages the broker holds under `topic_filter`, by topic."""
    return {m.topic: m.text for m in await first_messages(broker, name, topic_filter) if m.retain}


_markers = itertools.count()


class _Heard(logging.Handler):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.heard = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.heard.set()


async def handled_so_far(broker: Broker, base: str, *, within: float = WITHIN_S) -> None:
    """Return once homeflow, serving in this process under `base`, has handled every message published
    before the call. It handles messages one at a time, in the order the broker sends them; the marker
    sent last is a command for a routine it does not have, which it answers with a warning."""
    topic = f"{base}/marker-{next(_markers)}/set"
    listener = _Heard(topic)
    logger = logging.getLogger("homeflow")
    logger.addHandler(listener)
    try:
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.publish(topic, "marker", qos=1)
            async with asyncio.timeout(within):
                await listener.heard.wait()
    finally:
        logger.removeHandler(listener)


async def stopped(service: asyncio.Task[None], within: float = 10) -> None:
    """Wait for the service to end; if it hangs, fail with where every task is waiting."""
    done, _ = await asyncio.wait((service,), timeout=within)
    if not done:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(file=stacks)
        service.cancel()
        raise AssertionError(f"the service did not stop within {within} s:\n{stacks.getvalue()}")
    service.result()


class ShiftedClock(LoopClock):
    """The loop's clock, whose real time a test can move on (a button's duplicate window passes at
    once) while routine time runs as it does."""

    def __init__(self, time_scale: float = 1.0) -> None:
        super().__init__(time_scale)
        self._shift = 0.0
        self._days = timedelta()

    def shift(self, seconds: float) -> None:
        self._shift += seconds

    def pass_hours(self, hours: float) -> None:
        """The wall clock (journal times, rests, "today") moves on by `hours`."""
        self._days += timedelta(hours=hours)

    def monotonic(self) -> float:
        return super().monotonic() + self._shift

    def wall(self) -> datetime:
        return super().wall() + self._days


@contextlib.asynccontextmanager
async def serving(
    config: Path, collector: Collector, base: str, *, time_scale: float = 50, clock: Clock | None = None
) -> AsyncIterator[None]:
    """homeflow running on `config` until the block ends; entered once it is ready (connected, and has
    said `online` on `base`)."""
    since = len(collector.messages)
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    service = asyncio.create_task(serve(load(config), stop, time_scale=time_scale, clock=clock, ready=ready))
    try:
        await asyncio.wait((service, ready), return_when=asyncio.FIRST_COMPLETED)
        if service.done():
            service.result()  # raises what ended the service
        await collector.wait_for(f"{base}/status", lambda m: m.text == "online", since=since)
        yield
    finally:
        stop.set()
        await stopped(service)
