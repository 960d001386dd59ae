"""The lights of one run: a snapshot before the first change, changes in order off the timeline, and
one restore at the end."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from homeflow.devices.base import HoldingLight, Light, LightSnapshot, restore_each
from homeflow.routine.model import Ambience

log = logging.getLogger(__name__)

Change = Callable[[], Awaitable[None]]


class LightSession:
    """Carries out light changes one after the other in a task of its own (`run`), so the timeline
    never waits for a light: a slow light (Home Assistant's 3 s timeout) costs its own changes only.
    `restore` is the last change; after it the session takes no more."""

    def __init__(self, lights: Sequence[Light]) -> None:
        self.lights = list(lights)
        self.snapshot: dict[str, LightSnapshot] = {}
        self._changes: asyncio.Queue[Change | None] = asyncio.Queue()
        self._restored = False
        self._given_back = asyncio.Event()

    async def take_snapshot(self) -> dict[str, LightSnapshot]:
        """What every light looks like now, to give back at the end."""
        looks = await asyncio.gather(*(light.snapshot() for light in self.lights))
        self.snapshot = {light.name: look for light, look in zip(self.lights, looks, strict=True)}
        return self.snapshot

    def apply(self, ambience: Ambience) -> None:
        if not self._restored:
            self._changes.put_nowait(lambda: self._apply(ambience))

    def restore(self, transition_s: float) -> None:
        """Give the snapshot back once every earlier change is done; then end `run`."""
        if self._restored:
            return
        self._restored = True
        self._changes.put_nowait(lambda: self._restore(transition_s))
        self._changes.put_nowait(None)

    async def given_back(self) -> None:
        """Until the restore is carried out (the lights have their snapshot back, or were given up on)."""
        await self._given_back.wait()

    async def _restore(self, transition_s: float) -> None:
        try:
            await restore_lights(self.lights, self.snapshot, transition_s)
        finally:
            self._given_back.set()

    def let_go(self) -> None:
        """Another homeflow owns these lights now: carry out nothing more, and give nothing back.
        Changes still queued are dropped, and so is a command a light holds for later: the new owner
        sets the ambience of the step it goes on with itself, and an older change of this one's,
        carried out or sent again after that (on a reconnect, or while the lamp reports the new
        owner's look), would undo it. A change already on its way finishes: it is the run's own look."""
        if self._restored:
            return  # the restore is on its way: the run ended while it was still this one's
        self._restored = True
        while not self._changes.empty():
            self._changes.get_nowait()
        self._changes.put_nowait(None)
        for light in self.lights:
            if isinstance(light, HoldingLight):
                light.let_go()

    async def run(self) -> None:
        """Carry out the changes in order until the restore is done."""
        while (change := await self._changes.get()) is not None:
            await change()

    async def _apply(self, ambience: Ambience) -> None:
        results = await asyncio.gather(
            *(light.apply(ambience) for light in self.lights), return_exceptions=True
        )
        for light, result in zip(self.lights, results, strict=True):
            if isinstance(result, Exception):
                log.warning("light %s not set: %s", light.name, result)


async def restore_lights(
    lights: Sequence[Light], snapshot: dict[str, LightSnapshot], transition_s: float
) -> None:
    """Give every light its snapshot back, bounded in time so shutdown never hangs on a device."""
    known = [light for light in lights if light.name in snapshot]
    await restore_each(known, lambda light: light.restore(snapshot[light.name], transition_s), "light")
