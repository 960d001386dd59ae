"""The SQL both journal stores speak for the levels kept in their own rows (`mark`: the store's
placeholder, `?` or `%s`), and what their rows mean."""

from __future__ import annotations

from typing import Any

from homeflow.journal.base import Person, whose
from homeflow.journal.levels import KeptLevel
from homeflow.routine.progression import Feedback, Level

Query = tuple[str, tuple[Any, ...]]


def answers_after_query(mark: str, routine: str, after: int, person: Person | None) -> Query:
    """(id, status, answer) of the runs of `routine` (by `person`) after id `after` that are completed,
    answered or still going, by id."""
    clause, more = whose(person, mark)
    return (
        f"SELECT id, status, feedback FROM runs WHERE routine = {mark} AND id > {mark}"
        f" AND (status IN ('completed', 'running') OR feedback IS NOT NULL){clause} ORDER BY id",
        (routine, after, *more),
    )


def answers(rows: list[Any]) -> list[tuple[int, str, Feedback | None]]:
    return [(int(id_), status, Feedback(answer) if answer else None) for id_, status, answer in rows]


def kept_level_query(mark: str, routine: str, where: tuple[str, bool, str]) -> Query:
    """The level kept for `routine` and `where` (whose, first profile, the `reps` setting)."""
    return (
        "SELECT through, last_run, reps, reason, went_up, good_in_row, gentle FROM levels"
        f" WHERE routine = {mark} AND person = {mark} AND first = {mark} AND reps_setting = {mark}",
        (routine, *where),
    )


def kept_level(rows: list[Any]) -> KeptLevel | None:
    return next(
        (
            KeptLevel(int(through), int(last), Level(level, reason, bool(up), good, bool(gentle)))
            for through, last, level, reason, up, good, gentle in rows
        ),
        None,
    )


def keep_level_query(mark: str, routine: str, where: tuple[str, bool, str], kept: KeptLevel) -> Query:
    """Keep `kept`, unless a row that counts further is kept already."""
    level = kept.level
    return (
        "INSERT INTO levels (routine, person, first, reps_setting, through, last_run, reps, reason,"
        f" went_up, good_in_row, gentle) VALUES ({', '.join([mark] * 11)})"
        " ON CONFLICT (routine, person, first, reps_setting) DO UPDATE"
        " SET through = excluded.through,"
        " last_run = excluded.last_run, reps = excluded.reps, reason = excluded.reason,"
        " went_up = excluded.went_up, good_in_row = excluded.good_in_row, gentle = excluded.gentle"
        " WHERE excluded.through >= levels.through",
        (
            routine,
            *where,
            kept.through,
            kept.last,
            level.reps,
            level.reason,
            level.went_up,
            level.good_in_row,
            level.gentle,
        ),
    )
