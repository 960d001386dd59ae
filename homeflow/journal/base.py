"""The journal's interface: every run, the cues it carried out, and the lights to give back. Two stores
implement it: SQLite (a file, the default) and PostgreSQL (a server several homeflow can share)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Protocol

from homeflow.devices.base import LightSnapshot
from homeflow.errors import HomeflowError
from homeflow.journal.levels import KeptLevel, brought_up_to_date, start
from homeflow.journal.streaks import Streak, counted, extended, kept_for
from homeflow.routine.model import Reps
from homeflow.routine.plan import Cue
from homeflow.routine.progression import Feedback, Level

log = logging.getLogger(__name__)

# A completion dated later than now by more than this was journaled while the clock was ahead (then
# corrected): it does not count as today's, for the streak or the limits until its date comes. The
# margin lets a run started on another instance whose clock is a little ahead count at once.
FUTURE_TOLERANCE = timedelta(minutes=5)


class JournalError(HomeflowError):
    """The journal cannot be opened, read or written."""


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    routine: str
    trigger: str
    started_at: datetime
    ended_at: datetime | None
    status: RunStatus
    reps: int
    planned_s: float
    light_snapshot: dict[str, LightSnapshot]
    feedback: Feedback | None
    cues: int = 0
    profile: str | None = None  # whose run it was; None before profiles, or without any
    paused: bool = False  # paused now: a run taken over stays paused until the person goes on

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "routine": self.routine,
            "trigger": self.trigger,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "status": str(self.status),
            "reps": self.reps,
            "planned_s": self.planned_s,
            "cues": self.cues,
            "feedback": str(self.feedback) if self.feedback else None,
            "profile": self.profile,
        }


@dataclass(frozen=True, slots=True)
class Person:
    """Whose runs a query reads: a profile's; the routine's first profile (`first`) also has the runs
    journaled before the routine had profiles (they name none)."""

    name: str
    first: bool = False

    def where(self, mark: str) -> tuple[str, tuple[str, bool]]:
        """The SQL condition on a run's profile, and its arguments (`mark`: the store's placeholder)."""
        return f" AND (profile = {mark} OR ({mark} AND profile IS NULL))", (self.name, self.first)


def whose(person: Person | None, mark: str) -> tuple[str, tuple[str, bool] | tuple[()]]:
    """The SQL condition on whose runs to read (none: every run), and its arguments."""
    return person.where(mark) if person is not None else ("", ())


# The profile of what the safety table keeps for no one: the one implicit person of a routine without
# profiles, and what was heard before a routine had profiles (its first profile's, like its runs).
NO_PROFILE = ""


def safety_query(mark: str, routine: str, person: Person | None) -> tuple[str, tuple[str, ...]]:
    """What `person` (None: the implicit person) heard of the routine's safety introduction, with what
    the first profile heard before there were profiles (`heard_by` picks); `mark`: the placeholder."""
    sql = (
        f"SELECT profile, fingerprint FROM safety_heard"
        f" WHERE routine = {mark} AND profile IN ({mark}, {mark})"
    )
    mine = person.name if person is not None else NO_PROFILE
    before = NO_PROFILE if person is None or person.first else mine
    return sql, (routine, mine, before)


def heard_by(rows: list[Any], person: Person | None) -> str | None:
    """The fingerprint `person` heard last: their own, else (the first profile) the one from before."""
    found = {profile: str(fingerprint) for profile, fingerprint in rows}
    return found.get(person.name if person is not None else NO_PROFILE) or found.get(NO_PROFILE)


def run_record(
    row: tuple[Any, ...], when: Callable[[Any], datetime], snapshot: Callable[[Any], Any]
) -> RunRecord:
    """A row of `runs_query` as a RunRecord; `when` and `snapshot` read the store's own timestamp and
    JSON columns."""
    id_, routine, trigger, started, ended, status, reps, planned, snap, feedback, profile, cues, paused = row
    return RunRecord(
        id=int(id_),
        routine=routine,
        trigger=trigger,
        started_at=when(started),
        ended_at=when(ended) if ended else None,
        status=RunStatus(status),
        reps=reps,
        planned_s=planned,
        light_snapshot=snapshot(snap),
        feedback=Feedback(feedback) if feedback else None,
        cues=int(cues),
        profile=profile,
        paused=bool(paused),
    )


def runs_query(
    mark: str, routine: str | None, limit: int, status: RunStatus | None, person: Person | None
) -> tuple[str, list[Any]]:
    """The runs a store's `runs` reads, newest first, with the count of their cues (`mark`: the
    store's placeholder); the columns are those `RunRecord` is made from."""
    query = (
        "SELECT r.id, r.routine, r.trigger, r.started_at, r.ended_at, r.status, r.reps, r.planned_s,"
        " r.light_snapshot, r.feedback, r.profile, (SELECT count(*) FROM cues c WHERE c.run_id = r.id),"
        " r.paused FROM runs r WHERE 1 = 1"
    )
    args: list[Any] = []
    if routine is not None:
        query += f" AND routine = {mark}"
        args.append(routine)
    if status is not None:
        query += f" AND status = {mark}"
        args.append(str(status))
    clause, more = whose(person, mark)
    query += clause + f" ORDER BY id DESC LIMIT {mark}"
    return query, [*args, *more, limit]


# An answer to a run that a kept level counted before its latest run (homeflow.journal.levels) makes
# that level wrong: it is forgotten with the answer, and replayed from every answer when next asked.
FORGET_LEVELS = (
    "DELETE FROM levels WHERE routine = (SELECT routine FROM runs WHERE id = {0})"
    " AND (last_run > {0} OR (last_run = 0 AND through >= {0}))"
)


def utcnow() -> datetime:
    return datetime.now(UTC)


# A cue's record: run id, index, kind, step, text, planned offset, lateness, when it came due.
CueRow = tuple[int, int, str, int, str | None, float, float, datetime]


class Executes(Protocol):
    """What a store's write transaction offers: sqlite3's and psycopg's connections both do."""

    def execute(self, sql: Any, params: Any = ..., /) -> Any: ...


class Journal(ABC):
    """A synchronous store, called straight from the event loop: each write is one small transaction
    (well under a millisecond on a local file or a PostgreSQL on loopback), cheaper than handing it to
    a thread. `name` says where it is in messages (a URL without its password)."""

    def __init__(self, name: str, now: Callable[[], datetime] = utcnow) -> None:
        self.name = name
        self._now = now  # the service's wall clock, so a test's fake clock dates the records too
        self._future_told: set[tuple[str, datetime]] = set()  # (routine, date) of a warning given
        self.problem: str | None = None  # why the last write failed, until one succeeds again
        self.on_problem: Callable[[str | None], None] | None = None  # told when `problem` changes
        # Ends and answers of runs that could not be written (a full disk, a database gone): written
        # before anything else once writing works again, so no completion is lost. Cues are not kept: a
        # cue's record is the moment's, and a long outage would pile them up.
        self._owed: list[tuple[str, tuple[Any, ...]]] = []
        self._cues: list[CueRow] = []  # recorded this moment, not yet written (`record_cue`)

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @abstractmethod
    def _write(self) -> AbstractContextManager[Executes]:
        """One transaction that first writes what is owed; on failure `_failed` is called and
        JournalError raised."""

    def _paid(self) -> None:
        self._owed.clear()
        self._set_problem(None)

    def _failed(self, why: object) -> JournalError:
        self._set_problem(f"cannot write journal {self.name}: {why}")
        return JournalError(self.problem)

    def _owe(self, sql: str, args: tuple[Any, ...], *then: tuple[str, tuple[Any, ...]]) -> None:
        """Write `sql` (and `then`, in the same transaction) now, or as soon as writing works again."""
        statements = [(sql, args), *then]
        try:
            with self._write() as db:
                for each, values in statements:
                    db.execute(each, values)
        except JournalError:
            self._owed.extend(statements)
            raise

    def _set_problem(self, problem: str | None) -> None:
        if problem == self.problem:
            return
        if problem is None:
            log.info("journal %s is written again", self.name)
        else:
            log.warning("%s; homeflow goes on, and writes what it owes once it can", problem)
        self.problem = problem
        if self.on_problem is not None:
            self.on_problem(problem)

    @abstractmethod
    def start_run(
        self,
        routine: str,
        trigger: str,
        reps: int,
        planned_s: float,
        snapshot: dict[str, LightSnapshot],
        *,
        profile: str | None = None,
    ) -> int: ...

    @abstractmethod
    def set_planned(self, run_id: int, planned_s: float) -> None: ...

    def record_cue(self, run_id: int, index: int, cue: Cue, late_s: float) -> None:
        """Keep the cue's record until this moment's work is done (the end of the event loop's turn),
        then write it with the moment's other cues in one transaction: the cues of many rooms fall due
        together. A read, closing, or a call without a running loop writes what is kept first."""
        self._cues.append((run_id, index, str(cue.kind), cue.step, cue.text, cue.at, late_s, self._now()))
        if len(self._cues) > 1:
            return  # the write is arranged already
        try:
            asyncio.get_running_loop().call_soon(self.write_cues)
        except RuntimeError:
            self.write_cues()

    def write_cues(self) -> None:
        """Write the cues kept so far. A failure costs their record, as it would any cue's (the journal
        says so once, and goes on)."""
        rows, self._cues = self._cues, []
        if rows:
            with contextlib.suppress(JournalError), self._write() as db:
                self._insert_cues(db, rows)

    @abstractmethod
    def _insert_cues(self, db: Executes, rows: list[CueRow]) -> None: ...

    @abstractmethod
    def set_paused(self, run_id: int, paused: bool) -> None:
        """Whether the run is paused now (what a take-over goes on from)."""

    @abstractmethod
    def record_speaker_failure(self, run_id: int, index: int, speaker: str, error: str) -> None:
        """A cue that `speaker` could not say, and why."""

    @abstractmethod
    def speaker_failures(self, run_id: int) -> list[dict[str, Any]]: ...

    @abstractmethod
    def finish_run(self, run_id: int, status: RunStatus) -> None:
        """Close a run; a run already closed keeps its first status (a completion is logged once)."""

    @abstractmethod
    def set_feedback(self, run_id: int, feedback: Feedback | None) -> None:
        """A run's answer; a run keeps its first one (a second answer to it changes nothing)."""

    @abstractmethod
    def runs(
        self,
        routine: str | None = None,
        limit: int = 50,
        status: RunStatus | None = None,
        person: Person | None = None,
    ) -> list[RunRecord]:
        """Runs (of `person`, if given), newest first."""

    @abstractmethod
    def feedback_history(self, routine: str, person: Person | None = None) -> list[Feedback | None]:
        """Feedback of completed runs of `routine` (by `person`, if given), and of cancelled runs that
        were answered ("it hurt"), oldest first: what progression replays."""

    @abstractmethod
    def last_hurt(self, routine: str, person: Person | None = None) -> datetime | None:
        """When the last run of `routine` (by `person`) answered "it hurt" ended (started, if it has no
        end): where the rest after it counts from. One indexed row, on the way from a press to a light."""

    @abstractmethod
    def _completed_starts(
        self, routine: str, since: datetime, until: datetime, person: Person | None
    ) -> list[datetime]:
        """Start times of completed runs of `routine` from `since` to `until`, newest first."""

    @abstractmethod
    def _completed_since(
        self, routine: str, midnight: datetime, until: datetime, person: Person | None
    ) -> tuple[int, datetime | None, datetime | None]:
        """Of completed runs of `routine` (by `person`) started up to `until`: how many started since
        `midnight`, and when the latest ended (also up to `until`); and the latest start after `until`."""

    def completed_today(
        self, routine: str, tz: tzinfo | None = None, person: Person | None = None
    ) -> tuple[int, datetime | None]:
        """How many runs of `routine` (by `person`) completed since local midnight, and when the last
        one ended; completions dated in the future are left out, with one warning."""
        now = self._now().astimezone(tz)
        midnight = datetime.combine(now.date(), time(), now.tzinfo)
        count, last, ahead = self._completed_since(routine, midnight, now + FUTURE_TOLERANCE, person)
        if ahead is not None and (routine, ahead) not in self._future_told:
            self._future_told.add((routine, ahead))
            log.warning(
                "journal %s: a completed run of %s is dated %s, after now (%s): the clock was ahead "
                "when it was journaled; it does not count as today's, for the streak or the limits",
                self.name,
                routine,
                ahead.astimezone(tz).isoformat(timespec="seconds"),
                now.isoformat(timespec="seconds"),
            )
        return count, last

    @abstractmethod
    def _completed_levels(self, routine: str, person: Person | None) -> Iterator[tuple[datetime, int]]:
        """(start, reps) of completed runs of `routine`, oldest first."""

    @abstractmethod
    def cues(self, run_id: int) -> list[dict[str, Any]]: ...

    @abstractmethod
    def safety_heard(self, routine: str, person: Person | None = None) -> str | None:
        """The fingerprint of the safety introduction of `routine` that `person` (None: the routine's
        one implicit person) last heard to its end, if any."""

    @abstractmethod
    def record_safety(self, routine: str, fingerprint: str, profile: str | None = None) -> None:
        """`profile` (None: the routine's one implicit person) heard the safety introduction of
        `routine` with `fingerprint` to its end."""

    def last_completed(self, routine: str) -> RunRecord | None:
        """The latest completed run of `routine`: what a late answer answers."""
        found = self.runs(routine, limit=1, status=RunStatus.COMPLETED)
        return found[0] if found else None

    def unfinished_runs(self) -> list[RunRecord]:
        return self.runs(status=RunStatus.RUNNING, limit=1000)

    def completed_days(
        self, routine: str, tz: tzinfo | None = None, days: int = 400, person: Person | None = None
    ) -> list[date]:
        """Local dates with at least one completed run of `routine` (by `person`), newest first."""
        now = self._now()
        starts = self._completed_starts(routine, now - timedelta(days=days), now + FUTURE_TOLERANCE, person)
        return list(dict.fromkeys(started.astimezone(tz).date() for started in starts))

    def stats(self, routine: str, tz: tzinfo | None = None, person: Person | None = None) -> dict[str, Any]:
        """What a dashboard shows of a routine (or of one person's runs of it): last completion, streak
        of days, runs today. Each end of a run asks: its cost does not grow with the journal."""
        today, last = self.completed_today(routine, tz, person)
        return {
            "last_completed": last.isoformat(timespec="seconds") if last else None,
            "streak_days": self.day_streak(routine, tz, person).shown(self._now().astimezone(tz).date()),
            "completed_today": today,
        }

    def day_streak(self, routine: str, tz: tzinfo | None = None, person: Person | None = None) -> Streak:
        """The streak of days of `routine` (by `person`): its kept row, brought up to date from the runs
        journaled since; counted from every run once, when no row is kept yet (a journal from before
        streaks were kept, or another time zone)."""
        where = kept_for(person, tz)
        kept = self._kept_streak(routine, where)
        now = None if kept is None else self._brought_up_to_date(routine, tz, person, kept)
        if now is None:
            now = self._brought_up_to_date(routine, tz, person, Streak())
        assert now is not None  # counting from nothing never needs a recount
        if now != kept:
            self._keep_streak(routine, where, now)
        return now

    def _brought_up_to_date(
        self, routine: str, tz: tzinfo | None, person: Person | None, kept: Streak
    ) -> Streak | None:
        runs = self._runs_after(routine, kept.through, person)
        # A run still going may complete later, and a completion dated ahead of the clock counts once
        # its day comes: the next count starts just before the first of either (the completed runs
        # after it are counted again then, which changes nothing).
        latest = self._now() + FUTURE_TOLERANCE
        done = RunStatus.COMPLETED
        held = [i for i, started, status in runs if status == RunStatus.RUNNING or started > latest]
        through = held[0] - 1 if held else (runs[-1][0] if runs else kept.through)
        starts = [started for _, started, status in runs if status == done and started <= latest]
        if kept.through == 0:
            # Newest first, each start's local day worked out only as far back as the streak goes.
            return counted((s.astimezone(tz).date() for s in sorted(starts, reverse=True)), through)
        return extended(kept, (started.astimezone(tz).date() for started in starts), through)

    def next_level(self, routine: str, reps: Reps, person: Person | None = None) -> Level:
        """The next level of `person` for `routine`: the replay of their answers (`feedback_history`),
        from its kept row and the runs since. Replayed from the start only without a kept row (a
        journal from before, other `reps`, or a late answer to an earlier run: `set_feedback`)."""
        where = (*kept_for(person, None)[:2], repr(reps))
        stored = self._kept_level(routine, where, reps)
        kept = stored or start(reps)
        now, level = brought_up_to_date(reps, kept, self._answers_after(routine, kept.read_after, person))
        if now != stored:
            self._keep_level(routine, where, now)
        return level

    @abstractmethod
    def _answers_after(
        self, routine: str, after: int, person: Person | None
    ) -> list[tuple[int, str, Feedback | None]]:
        """(id, status, answer) of the runs of `routine` (by `person`) after id `after` that are completed,
        answered or still going, by id."""

    @abstractmethod
    def _kept_level(self, routine: str, where: tuple[str, bool, str], reps: Reps) -> KeptLevel | None:
        """The level kept in its row (`where`: whose, first profile, `reps`), if any."""

    @abstractmethod
    def _keep_level(self, routine: str, where: tuple[str, bool, str], kept: KeptLevel) -> None:
        """Keep `kept` in its row unless a later one is kept; only a shortcut, like `_keep_streak`."""

    @abstractmethod
    def _runs_after(self, routine: str, after: int, person: Person | None) -> list[tuple[int, datetime, str]]:
        """(id, start, status) of the runs of `routine` (by `person`) with an id above `after`, by id."""

    @abstractmethod
    def _kept_streak(self, routine: str, where: tuple[str, bool, str]) -> Streak | None:
        """The streak kept in its row (`where`: `kept_for`), if any."""

    @abstractmethod
    def _keep_streak(self, routine: str, where: tuple[str, bool, str], streak: Streak) -> None:
        """Keep `streak` in its row, unless a newer one is kept already. Only a shortcut: a journal that
        cannot be written now (read only, busy) counts again next time."""

    def levels(self, routine: str, person: Person | None = None) -> list[tuple[str, int]]:
        """When the repetition level changed: (date of the first completed run at it, reps), oldest first."""
        changes: list[tuple[str, int]] = []
        for started, reps in self._completed_levels(routine, person):
            if not changes or changes[-1][1] != reps:
                changes.append((started.isoformat()[:10], reps))
        return changes


def streak(days: list[date], today: date) -> int:
    """Consecutive days with a completed run, back from today (or yesterday while today has none yet)."""
    wanted = today if days and days[0] == today else today - timedelta(days=1)
    count = 0
    for day in days:
        if day != wanted:
            break
        count += 1
        wanted -= timedelta(days=1)
    return count
