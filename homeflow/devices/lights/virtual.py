"""A light that lives in memory: a newcomer without a smart lamp still sees the routine dim it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from homeflow.devices.base import LightSnapshot
from homeflow.routine.model import Ambience

log = logging.getLogger(__name__)

# How the light starts: on, full, neutral white, as a room lamp usually is before a routine.
INITIAL: LightSnapshot = {"state": "ON", "brightness": 100, "color_temp": 4000}

Watcher = Callable[[], None]


class VirtualLight:
    """Implements the Light protocol in memory; its look is logged and shown on the dashboard."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.look: LightSnapshot = dict(INITIAL)
        self.transition_s = 0.0
        self._watchers: list[Watcher] = []

    def watch(self, watcher: Watcher) -> None:
        """Call `watcher()` after every change, so the page can follow the light."""
        self._watchers.append(watcher)

    def shown(self) -> dict[str, Any]:
        """What the dashboard draws: the look, and how long the change to it takes."""
        return {**self.look, "transition": self.transition_s}

    async def snapshot(self) -> LightSnapshot:
        return dict(self.look)

    async def apply(self, ambience: Ambience) -> None:
        look = {"state": "ON", "brightness": ambience.brightness_pct}
        if ambience.color_temp_k:
            look["color_temp"] = ambience.color_temp_k
        await self._change(look, ambience.transition_s)

    async def restore(self, snapshot: LightSnapshot, transition_s: float) -> None:
        if snapshot:
            await self._change({key: snapshot[key] for key in INITIAL if key in snapshot}, transition_s)

    async def _change(self, look: LightSnapshot, transition_s: float) -> None:
        self.look = {**self.look, **look}
        self.transition_s = transition_s
        if self.look["state"] == "ON":
            log.info(
                "light %s: %s%% at %s K over %g s",
                self.name,
                self.look["brightness"],
                self.look["color_temp"],
                transition_s,
            )
        else:
            log.info("light %s: off", self.name)
        for watcher in list(self._watchers):
            watcher()
