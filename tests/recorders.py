"""Devices that record what they were told: the network edge for unit tests of the runner."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from homeflow.clock import FakeClock
from homeflow.devices.base import LightSnapshot
from homeflow.routine.model import Ambience


class RecordingSpeaker:
    def __init__(self, clock: FakeClock, name: str = "speaker", seconds: float = 2.0) -> None:
        self.name = name
        self.clock = clock
        self.seconds = seconds
        self.say_grace_s = 1.0
        self.said: list[tuple[float, str]] = []

    async def prepare(self, texts: Iterable[str]) -> Mapping[str, float]:
        return {t: self.seconds for t in texts}

    async def say(self, text: str) -> None:
        self.said.append((self.clock.now(), text))

    async def check(self) -> None:
        pass


class RecordingLight:
    def __init__(self, clock: FakeClock, name: str = "lamp") -> None:
        self.name = name
        self.clock = clock
        self.state: dict[str, Any] = {"state": "ON", "brightness": 200}
        self.applied: list[tuple[float, Ambience]] = []

    async def snapshot(self) -> LightSnapshot:
        return dict(self.state)

    async def apply(self, ambience: Ambience) -> None:
        self.applied.append((self.clock.now(), ambience))
        self.state = {"state": "ON", "brightness": ambience.brightness_pct}

    async def restore(self, snapshot: LightSnapshot, transition_s: float) -> None:
        self.state = dict(snapshot)
