"""A small simulated Zigbee2MQTT on the real broker: a light that keeps and publishes its state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt

from .mosquitto import Broker
from .tasks import cancel_and_wait


class SimulatedLight:
    """Behaves like Z2M for one light: applies `/set`, answers `/get`, publishes its state retained."""

    def __init__(self, base_topic: str, friendly_name: str, state: dict[str, Any]) -> None:
        self.topic = f"{base_topic}/{friendly_name}"
        self.state = dict(state)
        self.commands: list[dict[str, Any]] = []
        self.times: list[float] = []  # the wall time each command arrived
        self.states: list[dict[str, Any]] = []  # the state after each command
        self.changed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def running(self, broker: Broker) -> AsyncIterator[SimulatedLight]:
        async with aiomqtt.Client(broker.host, broker.port, identifier=f"sim-{self.topic}") as client:
            await client.subscribe(f"{self.topic}/set", qos=1)
            await client.subscribe(f"{self.topic}/get", qos=1)
            await self._publish(client)
            task = asyncio.create_task(self._serve(client))
            try:
                yield self
            finally:
                await cancel_and_wait(task)

    async def _publish(self, client: aiomqtt.Client) -> None:
        await client.publish(self.topic, json.dumps({**self.state, "linkquality": 120}), qos=1, retain=True)

    async def _serve(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            body = json.loads(message.payload)
            if message.topic.value.endswith("/set"):
                self.commands.append(body)
                self.times.append(time.time())
                self.state.update({k: v for k, v in body.items() if k != "transition"})
                if "color_temp" in body:
                    self.state["color_mode"] = "color_temp"
                self.states.append(dict(self.state))
                self.changed.set()
            await self._publish(client)
