"""Schedules: fire routines at wall-clock times in a time zone, exactly once per time, across DST."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, tzinfo

from cronsim import CronSim

from homeflow.clock import Clock
from homeflow.settings.model import ScheduleTrigger

log = logging.getLogger(__name__)

# The wall clock is read again at least this often while waiting: it may jump (NTP, suspend).
MAX_NAP_S = 60.0

Fire = Callable[[str, ScheduleTrigger, datetime], Awaitable[None]]


def next_time(trigger: ScheduleTrigger, after: datetime, tz: tzinfo) -> datetime:
    """The first time strictly after `after` at which `trigger` fires, read in `tz`. A time that a
    spring-forward skips fires right after the change; one that a fall-back repeats fires once."""
    return next(CronSim(trigger.cron, after.astimezone(tz)))


class Scheduler:
    """Waits for the next scheduled time of any routine and calls `fire` for it."""

    def __init__(
        self,
        entries: Sequence[tuple[str, ScheduleTrigger]],
        tz: tzinfo,
        fire: Fire,
        clock: Clock,
        max_nap_s: float = MAX_NAP_S,
    ) -> None:
        self.entries = entries
        self.tz = tz
        self.fire = fire
        self.clock = clock
        self.max_nap_s = max_nap_s

    async def run(self) -> None:
        if not self.entries:
            return
        now = self.clock.wall()
        due = [next_time(trigger, now, self.tz) for _, trigger in self.entries]
        for (routine_id, _), when in zip(self.entries, due, strict=True):
            log.info("%s: next scheduled run %s", routine_id, when.isoformat(timespec="minutes"))
        while True:
            index = min(range(len(due)), key=due.__getitem__)
            when = due[index]
            await self._sleep_until(when)
            routine_id, trigger = self.entries[index]
            try:
                await self.fire(routine_id, trigger, when)
            except Exception as exc:
                log.error("%s: scheduled start failed: %s", routine_id, exc)
            due[index] = next_time(trigger, max(when, self.clock.wall()), self.tz)

    async def _sleep_until(self, when: datetime) -> None:
        while (left := (when - self.clock.wall()).total_seconds()) > 0:
            await self.clock.sleep(min(left, self.max_nap_s))
