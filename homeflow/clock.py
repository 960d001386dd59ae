"""The one source of time for runs: absolute deadlines on a monotonic clock, optionally sped up."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on this clock's own timeline (routine seconds, not necessarily wall seconds)."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once `now()` has reached `deadline`; at once if it already has."""
        ...


class LoopClock:
    """The event loop's monotonic clock; `time_scale` > 1 runs routines that many times faster."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError(f"time scale must be > 0, got {time_scale}")
        self.time_scale = time_scale
        self._loop = asyncio.get_running_loop()
        self._origin = self._loop.time()

    def now(self) -> float:
        return (self._loop.time() - self._origin) * self.time_scale

    async def sleep_until(self, deadline: float) -> None:
        # Sleeping on the loop's own timer is as precise as the loop allows; the deadline is absolute,
        # so a late wake-up is never carried into the next cue.
        delay = (deadline - self.now()) / self.time_scale
        if delay > 0:
            await asyncio.sleep(delay)


class FakeClock:
    """A clock for tests: sleeping jumps straight to the deadline, so a 20-minute routine takes ms."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    async def sleep_until(self, deadline: float) -> None:
        self.sleeps.append(deadline)
        self._now = max(self._now, deadline)
        await asyncio.sleep(0)
