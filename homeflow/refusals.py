"""Why a run may not start now, in the words of the routine's language: its limits (too often, too soon),
or a light another run holds."""

from __future__ import annotations

from collections.abc import Iterable

from homeflow.routine.guidance import light_in_use, refusal, said
from homeflow.run import House, Room, Run


def beyond_limits(room: Room, house: House) -> str | None:
    """The routine has run as often as its limits allow today, or too recently."""
    routine = room.routine
    if routine.limits.max_per_day is None and routine.limits.min_gap_s <= 0:
        return None  # the common case costs no query on the way from button to light
    today, last_ended = house.journal.completed_today(routine.id, house.tz)
    return refusal(routine, today, last_ended, house.clock.wall())


def lights_held(room: Room, active: Iterable[Run]) -> str | None:
    """A lamp belongs to one run at a time: a second run would take the first one's dimmed look as its
    snapshot and leave the lamp dimmed."""
    wanted = {light.name for light in room.lights}
    for other in active:
        shared = sorted(wanted & {light.name for light in other.room.lights})
        if shared:
            return light_in_use(shared[0], other.room.routine.name, said(room.routine))
    return None
