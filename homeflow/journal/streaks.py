"""A streak of days kept in its own row: brought up to date from the runs since, never re-read from the
start of history. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from homeflow.journal.base import Person

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Streak:
    """Days in a row with a completed run, up to `last_day`, counting every run up to id `through`."""

    through: int = 0
    last_day: date | None = None
    days: int = 0

    def shown(self, today: date) -> int:
        """The streak as shown today: it lasts while its last day is today or yesterday."""
        return self.days if self.last_day in (today, today - ONE_DAY) else 0


def kept_for(person: Person | None, tz: tzinfo | None) -> tuple[str, bool, str]:
    """The row a streak is kept in: whose runs (`""`: every run), the first profile's or not, and the
    time zone its days are in."""
    return ("", False, str(tz)) if person is None else (person.name, person.first, str(tz))


def extended(streak: Streak, days: Iterable[date], through: int) -> Streak | None:
    """The streak with the days of newly counted runs (counted ones again change nothing), up to id
    `through`; None when a day just before the streak arrives late: it may join older days, so the
    streak is counted again from the runs."""
    last_day, length = streak.last_day, streak.days
    for day in days:
        if last_day is None or day > last_day + ONE_DAY:
            last_day, length = day, 1
        elif day == last_day + ONE_DAY:
            last_day, length = day, length + 1
        elif day == last_day - timedelta(days=length):
            return None
    return Streak(through, last_day, length)


def counted(days: Iterable[date], through: int) -> Streak:
    """The streak of a whole history's days, newest first: read only as far back as the streak goes."""
    last_day: date | None = None
    length = 0
    for day in days:
        if last_day is None:
            last_day, length = day, 1
        elif day == last_day - timedelta(days=length):
            length += 1
        elif day < last_day - timedelta(days=length):
            break
    return Streak(through, last_day, length)
