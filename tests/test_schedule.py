"""Schedules on a fake wall clock: a whole year of days, across both daylight-saving changes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from homeflow.settings.model import ScheduleTrigger
from homeflow.triggers.schedule import Scheduler, next_time


class FakeWallClock:
    """Sleeping moves time forward at once; `stop_at` ends the test's year."""

    def __init__(self, start: datetime, stop_at: datetime) -> None:
        self.time = start
        self.stop_at = stop_at

    def wall(self) -> datetime:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.time += timedelta(seconds=seconds)
        if self.time >= self.stop_at:
            raise asyncio.CancelledError
        await asyncio.sleep(0)


async def fires_in_2026(cron: str, zone: str) -> list[datetime]:
    fired: list[datetime] = []

    async def fire(routine_id: str, trigger: ScheduleTrigger, when: datetime) -> None:
        fired.append(clock.wall().astimezone(ZoneInfo(zone)))

    clock = FakeWallClock(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    # Naps of up to 6 h instead of a minute: the same waking logic, a thousand times fewer steps.
    scheduler = Scheduler([("back-massage", ScheduleTrigger(cron))], ZoneInfo(zone), fire, clock, 6 * 3600)
    with pytest.raises(asyncio.CancelledError):
        await scheduler.run()
    return fired


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize("at", ["07:30", "02:30", "01:30"])
async def test_a_daily_time_fires_once_every_day_of_the_year(zone: str, at: str) -> None:
    hour, minute = (int(x) for x in at.split(":"))
    fired = await fires_in_2026(f"{minute} {hour} * * *", zone)
    per_day = Counter(f.date() for f in fired)
    assert len(per_day) == 365  # no day missed
    assert set(per_day.values()) == {1}  # and none twice, even when the clock goes back
    regular = [f for f in fired if (f.hour, f.minute) != (hour, minute)]
    # Only a time that spring-forward skips moves, to the first minute after the change.
    spring = {"Europe/Berlin": date(2026, 3, 29), "America/New_York": date(2026, 3, 8)}[zone]
    if at == "02:30":
        assert [(f.date(), f.hour, f.minute) for f in regular] == [(spring, 3, 0)]
    else:
        assert regular == []


async def test_weekdays_only() -> None:
    fired = await fires_in_2026("30 7 * * 1,2,3,4,5", "Europe/Berlin")
    assert {f.weekday() for f in fired} == {0, 1, 2, 3, 4}
    assert len(fired) == 261  # the weekdays of 2026


def test_next_time_is_strictly_after() -> None:
    tz = ZoneInfo("Europe/Berlin")
    seven_thirty = datetime(2026, 6, 1, 7, 30, tzinfo=tz)
    assert next_time(ScheduleTrigger("30 7 * * *"), seven_thirty, tz) == seven_thirty + timedelta(days=1)
