"""The journal's interface: every run, the cues it carried out, and the lights to give back. Two stores
implement it: SQLite (a file, the default) and PostgreSQL (a server several homeflow can share)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Protocol

from homeflow.devices.base import LightSnapshot
from homeflow.errors import HomeflowError
from homeflow.routine.plan import Cue
from homeflow.routine.progression import Feedback

log = logging.getLogger(__name__)


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
        }


def utcnow() -> datetime:
    return datetime.now(UTC)


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
        self.problem: str | None = None  # why the last write failed, until one succeeds again
        self.on_problem: Callable[[str | None], None] | None = None  # told when `problem` changes
        # Ends and answers of runs that could not be written (a full disk, a database gone): written
        # before anything else once writing works again, so no completion is lost. Cues are not kept: a
        # cue's record is the moment's, and a long outage would pile them up.
        self._owed: list[tuple[str, tuple[Any, ...]]] = []

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

    def _owe(self, sql: str, args: tuple[Any, ...]) -> None:
        """Write `sql` now, or as soon as writing works again."""
        try:
            with self._write() as db:
                db.execute(sql, args)
        except JournalError:
            self._owed.append((sql, args))
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
        self, routine: str, trigger: str, reps: int, planned_s: float, snapshot: dict[str, LightSnapshot]
    ) -> int: ...

    @abstractmethod
    def set_planned(self, run_id: int, planned_s: float) -> None: ...

    @abstractmethod
    def set_paused(self, run_id: int, paused: bool) -> None:
        """Whether the run is paused now (what a take-over goes on from)."""

    @abstractmethod
    def record_cue(self, run_id: int, index: int, cue: Cue, late_s: float) -> None: ...

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
        self, routine: str | None = None, limit: int = 50, status: RunStatus | None = None
    ) -> list[RunRecord]:
        """Runs, newest first."""

    @abstractmethod
    def feedback_history(self, routine: str) -> list[Feedback | None]:
        """Feedback of completed runs of `routine`, oldest first: what progression replays."""

    @abstractmethod
    def _completed_starts(self, routine: str, since: datetime) -> list[datetime]:
        """Start times of completed runs of `routine` since `since`, newest first."""

    @abstractmethod
    def completed_today(self, routine: str, tz: tzinfo | None = None) -> tuple[int, datetime | None]:
        """How many runs of `routine` completed since local midnight, and when the last one ended."""

    @abstractmethod
    def _completed_levels(self, routine: str) -> Iterator[tuple[datetime, int]]:
        """(start, reps) of completed runs of `routine`, oldest first."""

    @abstractmethod
    def cues(self, run_id: int) -> list[dict[str, Any]]: ...

    def last_completed(self, routine: str) -> RunRecord | None:
        """The latest completed run of `routine`: what a late answer answers."""
        found = self.runs(routine, limit=1, status=RunStatus.COMPLETED)
        return found[0] if found else None

    def unfinished_runs(self) -> list[RunRecord]:
        return self.runs(status=RunStatus.RUNNING, limit=1000)

    def completed_days(self, routine: str, tz: tzinfo | None = None, days: int = 400) -> list[date]:
        """Local dates with at least one completed run of `routine`, newest first."""
        starts = self._completed_starts(routine, self._now() - timedelta(days=days))
        return list(dict.fromkeys(started.astimezone(tz).date() for started in starts))

    def stats(self, routine: str, tz: tzinfo | None = None) -> dict[str, Any]:
        """What a dashboard shows of a routine: last completion, streak of days, runs today."""
        today, last = self.completed_today(routine, tz)
        days = self.completed_days(routine, tz)
        return {
            "last_completed": last.isoformat(timespec="seconds") if last else None,
            "streak_days": streak(days, self._now().astimezone(tz).date()),
            "completed_today": today,
        }

    def levels(self, routine: str) -> list[tuple[str, int]]:
        """When the repetition level changed: (date of the first completed run at it, reps), oldest first."""
        changes: list[tuple[str, int]] = []
        for started, reps in self._completed_levels(routine):
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
