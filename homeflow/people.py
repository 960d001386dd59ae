"""The people who do a routine (its `profiles`): whose a run is, and each one's level and figures.

A routine without profiles has one implicit person (`None`): its level is kept under the routine's id
and its figures go out on `<base>/<routine>/stats`, as they always have. A routine with profiles keeps a
level per profile and publishes each profile's figures on `<base>/<routine>/stats/<profile>`; the
routine's own `stats` topic carries its first profile's, the one a run is for when nothing names anyone
(a schedule, Home Assistant's Start button, `start` over MQTT). Runs from before a routine had profiles
name no one and count as its first profile's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from homeflow.house import House, Room
from homeflow.journal import Journal, JournalError, Person
from homeflow.language import ENGLISH, Phrases
from homeflow.routine.guidance import advice, said, stop_rules
from homeflow.routine.model import Reps
from homeflow.routine.progression import Feedback, Level, towards
from homeflow.status import RunEvent

if TYPE_CHECKING:
    from homeflow.settings.model import Settings

log = logging.getLogger(__name__)

# `<base>/<routine>/set` takes `start:anna` (also `force:anna`, `toggle:anna`): a start for that person.
NAMED = ("start", "force", "toggle")


def key(routine_id: str, profile: str | None) -> str:
    """Where a person's next level is kept: the routine's id alone for its one implicit person."""
    return routine_id if profile is None else f"{routine_id}/{profile}"


def split_command(text: str) -> tuple[str, str | None]:
    """A command and the profile it names: `start:anna` is ("start", "anna"); `start` names none."""
    word, colon, profile = text.partition(":")
    return word.strip(), profile.strip() if colon else None


def figures(
    journal: Journal,
    routine_id: str,
    level: Level,
    reps: Reps,
    tz: tzinfo | None,
    *,
    person: Person | None = None,
    table: Phrases = ENGLISH,
    stops: str = "",
) -> dict[str, Any]:
    """History at a glance (of `person`'s runs, if given): last completion, streak, the level the next
    run will use and how far good runs have come towards the one after it, and the advice to show while
    it is the gentler one (after "it hurt": to rest, and `stops`, the routine's stop rules), in the
    language of `table`."""
    return {
        **journal.stats(routine_id, tz, person),
        "reps_level": level.reps,
        "reps_reason": level.reason,
        "towards": towards(reps, level),
        "advice": advice(level, table, stops),
    }


def first_person(settings: Settings, routine_id: str) -> Person | None:
    """Whose runs the routine's own level and figures are (`homeflow plan`, `homeflow history`): its
    first profile's, or every run's without profiles."""
    names = profiles_of(settings, routine_id)
    return Person(names[0], first=True) if names else None


def profiles_of(settings: Settings, routine_id: str) -> list[str]:
    """The routine's profiles, the first first (none: it has one implicit person)."""
    names = [p.name for a in settings.automations if a.routine == routine_id for p in a.profiles]
    return list(dict.fromkeys(names))


def levels_of(journal: Journal, rooms: Mapping[str, Room]) -> dict[str, Level]:
    """Every person's next level, replayed from the journal (at start-up, and on a take-over)."""
    levels: dict[str, Level] = {}
    for routine_id, room in rooms.items():
        levels |= fold(journal, routine_id, room)
    return levels


def fold(journal: Journal, routine_id: str, room: Room) -> dict[str, Level]:
    """The next level of each person of one routine, from the journal."""
    reps = room.routine.reps
    return {
        key(routine_id, profile): journal.next_level(routine_id, reps, room.person(profile))
        for profile in room.people
    }


def rest_ends(journal: Journal, room: Room, profile: str | None) -> datetime | None:
    """When the rest after the person's last "it hurt" ends (`limits.rest_after_hurt_hours` from the
    end of the run it answered); None without an "it hurt", or without a rest."""
    rest_s = room.routine.limits.rest_after_hurt_s
    if rest_s <= 0:
        return None
    hurt = journal.last_hurt(room.routine.id, room.person(profile))
    return None if hurt is None else hurt + timedelta(seconds=rest_s)


def report(house: House, room: Room, profile: str | None, level: Level) -> None:
    """Publish one person's figures (and, for the first profile, the routine's own)."""
    routine_id = room.routine.id
    try:
        stats = figures(
            house.journal,
            routine_id,
            level,
            room.routine.reps,
            house.tz,
            person=room.person(profile),
            table=said(room.routine),
            stops=stop_rules(room.routine),
        )
        # While it lasts, the rest after "it hurt": a page shows Start as refused until then. Rounded
        # up to the second, so a Start shown active again at that time is not refused.
        ends = rest_ends(house.journal, room, profile) if level.gentle else None
        stats["rest_until"] = (
            _whole_second_after(ends).isoformat() if ends and ends > house.clock.wall() else None
        )
    except JournalError as exc:
        log.warning("%s: figures not updated: %s", routine_id, exc)
        return
    if profile is not None:
        house.status.stats(routine_id, stats, profile)
    if profile == room.first:
        house.status.stats(routine_id, stats)


def report_answer(
    house: House,
    room: Room,
    profile: str | None,
    level: Level,
    *,
    feedback: Feedback | None,
    run_id: int | None,
    trigger: str,
) -> None:
    """The outcome of the question of run `run_id` (`feedback`, None if it closed unanswered): the
    person's figures with the next `level`, then the `answered` event saying so."""
    # Figures first, as for `completed`: an automation reacting to `answered` reads the new level.
    report(house, room, profile, level)
    whose = {} if profile is None else {"profile": profile}
    house.status.event(
        room.routine.id,
        RunEvent.ANSWERED,
        run_id=run_id,
        trigger=trigger,
        feedback=None if feedback is None else str(feedback),
        reps_level=level.reps,
        reps_reason=level.reason,
        **whose,
    )


def _whole_second_after(moment: datetime) -> datetime:
    """`moment`, or the next whole second if it is within one."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def report_all(house: House, room: Room, levels: Mapping[str, Level]) -> None:
    """Publish the figures of every person of the routine."""
    for profile in room.people:
        report(house, room, profile, levels[key(room.routine.id, profile)])
