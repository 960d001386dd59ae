"""The one source of time: routine time for deadlines, real time for debounce, wall time for the house.

Routine time is the monotonic clock times `time_scale` (> 1 plays routines faster for demos and tests);
everything else (button debounce, schedules, journal timestamps) is real time. Each part of homeflow
takes the clock it is given, so a test can hand every part the same fake one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class Cancellable(Protocol):
    def cancel(self) -> Any: ...


class Clock(Protocol):
    time_scale: float

    def now(self) -> float:
        """Routine seconds: monotonic, times `time_scale`."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once `now()` has reached `deadline`; at once if it already has."""
        ...

    def call_at(self, deadline: float, callback: Callable[..., object], *args: object) -> Cancellable:
        """Call `callback(*args)` once `now()` has reached `deadline`, unless cancelled first: a timer,
        not a task, which is all a run holds while it waits for its next cue."""
        ...

    def monotonic(self) -> float:
        """Real seconds on a monotonic clock (debounce, retry intervals)."""
        ...

    def wall(self) -> datetime:
        """The wall clock, timezone-aware (UTC): schedules, journal timestamps, what is shown."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for real seconds (schedules wait on the wall clock, whatever the time scale)."""
        ...


def wall_at(clock: Clock, deadline: float) -> datetime:
    """The wall time at which the clock's routine time reaches `deadline`."""
    return clock.wall() + timedelta(seconds=(deadline - clock.now()) / clock.time_scale)


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

    def call_at(self, deadline: float, callback: Callable[..., object], *args: object) -> Cancellable:
        return self._loop.call_at(self._origin + deadline / self.time_scale, callback, *args)

    def monotonic(self) -> float:
        return self._loop.time() - self._origin

    def wall(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# Loop iterations a fake sleep lets pass before time jumps: enough for a queue hand-over and a call.
SETTLE_STEPS = 10


class FakeClock:
    """A clock for tests: sleeping jumps straight to the deadline, so a 20-minute routine takes ms.
    Routine, real and wall time all move together (time scale 1)."""

    time_scale = 1.0

    def __init__(self, start: float = 0.0, wall: datetime = datetime(2026, 1, 5, 8, tzinfo=UTC)) -> None:
        self._now = start
        self._wall_origin = wall - timedelta(seconds=start)
        self.sleeps: list[float] = []
        self._timers: set[asyncio.Task[None]] = set()

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    def wall(self) -> datetime:
        return self._wall_origin + timedelta(seconds=self._now)

    def advance(self, seconds: float) -> None:
        self._now += seconds

    async def sleep_until(self, deadline: float) -> None:
        self.sleeps.append(deadline)
        # Tasks that are ready (a voice given a sentence, a light session given a change) act first, at
        # the time it is now, as they would on a real clock; then time jumps.
        for _ in range(SETTLE_STEPS):
            await asyncio.sleep(0)
        self._now = max(self._now, deadline)
        await asyncio.sleep(0)

    def call_at(self, deadline: float, callback: Callable[..., object], *args: object) -> Cancellable:
        async def later() -> None:
            await self.sleep_until(deadline)
            callback(*args)

        timer = asyncio.ensure_future(later())
        self._timers.add(timer)  # a strong reference until it has run
        timer.add_done_callback(self._timers.discard)
        return timer

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + seconds)
