"""What may keep a run from starting (a routine's limits, a lamp another run holds), said in the words
of the routine's language, and the runs a crash left open."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from homeflow.devices.base import Light
from homeflow.devices.lights.session import restore_lights
from homeflow.house import House, Room
from homeflow.journal import Journal, RunStatus
from homeflow.routine.guidance import light_in_use, refusal, said
from homeflow.run import Run
from homeflow.status import RunEvent, Status

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


async def recover(journal: Journal, status: Status, lights: dict[str, Light], routine: str | None) -> None:
    """Close runs a crash left open (of `routine`, or of every routine), and give their lights back."""
    for record in journal.unfinished_runs():
        if routine is not None and record.routine != routine:
            continue
        known = {name: snap for name, snap in record.light_snapshot.items() if name in lights}
        await restore_lights([lights[name] for name in known], known, 0.0)
        journal.finish_run(record.id, RunStatus.INTERRUPTED)
        status.event(record.routine, RunEvent.INTERRUPTED, run_id=record.id, trigger=record.trigger)
        log.warning(
            "%s: run %d was interrupted at %s; %d light(s) restored",
            record.routine,
            record.id,
            record.started_at.isoformat(timespec="seconds"),
            len(known),
        )
