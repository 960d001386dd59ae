"""What may keep a run from starting (a routine's limits, a lamp another run holds), said in the words
of the routine's language."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from homeflow.house import House, Room
from homeflow.journal import Journal
from homeflow.routine.guidance import light_in_use, refusal, said
from homeflow.run import Run

log = logging.getLogger(__name__)


def limits_refuse(journal: Journal, room: Room, profile: str | None, house: House) -> str | None:
    """Why the routine's limits refuse a run of `profile` now: each person's runs count towards their
    own `max_per_day` and `min_gap_minutes` (a routine without profiles counts all its runs)."""
    routine = room.routine
    if routine.limits.max_per_day is None and routine.limits.min_gap_s <= 0:
        return None  # the common case costs no query on the way from button to light
    today, last_ended = journal.completed_today(routine.id, house.tz, room.person(profile))
    return refusal(routine, today, last_ended, house.clock.wall())


def done_today(journal: Journal, room: Room, house: House) -> bool:
    """Whether the routine's run for its first profile (a schedule's) was done today."""
    return journal.completed_today(room.routine.id, house.tz, room.person(room.first))[0] > 0


def lights_held(room: Room, active: Iterable[Run]) -> str | None:
    """A lamp belongs to one run at a time: a second run would take the first one's dimmed look as its
    snapshot and leave the lamp dimmed."""
    wanted = {light.name for light in room.lights}
    for other in active:
        shared = sorted(wanted & {light.name for light in other.room.lights})
        if shared:
            return light_in_use(shared[0], other.room.routine.name, said(room.routine))
    return None
