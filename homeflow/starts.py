"""What may keep a run from starting (a routine's limits, a lamp another run holds), said in the words
of the routine's language."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from homeflow.house import House, Room
from homeflow.journal import Journal, JournalError
from homeflow.people import rest_ends
from homeflow.routine.guidance import light_in_use, refusal, rest_refusal, said
from homeflow.routine.progression import Level
from homeflow.run import Run

log = logging.getLogger(__name__)


def limits_refuse(
    journal: Journal, room: Room, profile: str | None, house: House, level: Level | None = None
) -> str | None:
    """Why the routine's limits refuse a run of `profile` now: each person's runs count towards their
    own `max_per_day` and `min_gap_minutes` (a routine without profiles counts all its runs); while
    `level` (the person's next) is the gentle one, the rest after "it hurt" (`rest_after_hurt_hours`)."""
    routine = room.routine
    if level is not None and level.gentle and (resting := rest_refuses(journal, room, profile, house)):
        return resting
    if routine.limits.max_per_day is None and routine.limits.min_gap_s <= 0:
        return None  # the common case costs no query on the way from button to light
    today, last_ended = journal.completed_today(routine.id, house.tz, room.person(profile))
    return refusal(routine, today, last_ended, house.clock.wall())


def rest_refuses(journal: Journal, room: Room, profile: str | None, house: House) -> str | None:
    """Why a run may not start yet after the person's last "it hurt" (`rest_ends`). Only asked while
    the next level is the gentle one, so a press costs no query on any other day."""
    try:
        ends = rest_ends(journal, room, profile)
    except JournalError as exc:  # a journal that cannot be read keeps nobody from starting
        log.warning("%s: the rest after it hurt not checked: %s", room.routine.id, exc)
        return None
    wait_s = (ends - house.clock.wall()).total_seconds() if ends else 0.0
    return rest_refusal(room.routine, wait_s) if wait_s > 0 else None


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
