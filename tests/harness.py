"""homeflow served in-process against the test broker, with a subscriber that records what it publishes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from homeflow.service import serve
from homeflow.settings import load

from .conftest import Broker

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


@dataclass(frozen=True)
class Message:
    topic: str
    text: str
    retain: bool

    @property
    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class Collector:
    """Every message on the subscribed filters, in arrival order."""

    client: aiomqtt.Client
    messages: list[Message] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def collect(self) -> None:
        async for message in self.client.messages:
            assert isinstance(message.payload, bytes)
            self.messages.append(Message(message.topic.value, message.payload.decode(), message.retain))
            self.arrived.set()

    async def wait_for(
        self, topic: str, check: Callable[[Message], bool] = lambda m: True, *, since: int = 0
    ) -> Message:
        """The first message on `topic` (exactly) from index `since` on that passes `check`."""
        async with asyncio.timeout(15):
            while True:
                for message in self.messages[since:]:
                    if message.topic == topic and check(message):
                        return message
                self.arrived.clear()
                await self.arrived.wait()

    async def wait_until(self, done: Callable[[], bool]) -> None:
        """Until `done()` holds, checked after every message."""
        async with asyncio.timeout(15):
            while not done():
                self.arrived.clear()
                await self.arrived.wait()

    def on(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m.topic == topic]


async def retained(broker: Broker, name: str, topic_filter: str) -> dict[str, str]:
    """The retained messages the broker holds under `topic_filter`, by topic."""
    marker = f"{name}/marker"
    async with collecting(broker, name, topic_filter, marker) as fresh:
        # The broker sends retained messages right after a SUBSCRIBE, so ahead of a later publish.
        await fresh.client.publish(marker, "end", qos=1)
        await fresh.wait_for(marker)
    return {m.topic: m.text for m in fresh.messages if m.retain}


@contextlib.asynccontextmanager
async def collecting(broker: Broker, name: str, *filters: str) -> AsyncIterator[Collector]:
    async with aiomqtt.Client(broker.host, broker.port, identifier=name) as client:
        for topic_filter in filters:
            await client.subscribe(topic_filter, qos=1)
        collector = Collector(client)
        task = asyncio.create_task(collector.collect())
        try:
            yield collector
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def serving(
    config: Path, collector: Collector, base: str, *, time_scale: float = 50
) -> AsyncIterator[None]:
    """homeflow running on `config` until the block ends; entered once it said `online` on `base`."""
    since = len(collector.messages)
    stop = asyncio.Event()
    service = asyncio.create_task(serve(load(config), stop, time_scale=time_scale))
    try:
        waiting = asyncio.create_task(
            collector.wait_for(f"{base}/status", lambda m: m.text == "online", since=since)
        )
        await asyncio.wait((service, waiting), return_when=asyncio.FIRST_COMPLETED)
        if service.done():
            waiting.cancel()
            service.result()  # raises what ended the service
        await waiting
        yield
    finally:
        stop.set()
        await asyncio.wait_for(service, 10)


def write_settings(folder: Path, broker: Broker, prefix: str, body: str, routines: dict[str, str]) -> Path:
    """`homeflow.yaml` on the test broker under `prefix`, plus `body`, and routine files by id."""
    (folder / "routines").mkdir(exist_ok=True)
    for routine_id, text in routines.items():
        (folder / "routines" / f"{routine_id}.yaml").write_text(text)
    config = folder / "homeflow.yaml"
    config.write_text(
        f"mqtt: {{host: {broker.host}, port: {broker.port}, base_topic: {prefix}/hf, "
        f"client_id: {prefix}-hf}}\n"
        f"zigbee2mqtt: {{base_topic: {prefix}/z2m}}\n"
        "http: {port: 0}\n"
        "journal: journal.db\n"
        f"cache: {folder / 'cache'}\n" + body
    )
    return config
