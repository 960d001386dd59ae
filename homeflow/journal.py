"""The journal: every run, the cues it carried out, and the lights to give back, in one SQLite file."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any

from homeflow.devices.base import LightSnapshot
from homeflow.errors import HomeflowError
from homeflow.routine.plan import Cue
from homeflow.routine.progression import Feedback

log = logging.getLogger(__name__)

# 2: speaker_failures. Each table is created IF NOT EXISTS, so opening an older journal upgrades it.
SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    routine TEXT NOT NULL,
    trigger TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    reps INTEGER NOT NULL,
    planned_s REAL NOT NULL,
    light_snapshot TEXT NOT NULL DEFAULT '{}',
    feedback TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_routine ON runs (routine, started_at);
CREATE TABLE IF NOT EXISTS cues (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    idx INTEGER NOT NULL,
    kind TEXT NOT NULL,
    step INTEGER NOT NULL,
    text TEXT,
    planned_at REAL NOT NULL,
    late_s REAL NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS speaker_failures (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    idx INTEGER NOT NULL,
    speaker TEXT NOT NULL,
    error TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (run_id, idx, speaker)
);
"""


class JournalError(HomeflowError):
    """The journal file cannot be opened or written."""


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


class Journal:
    """A synchronous SQLite store: each write is one small WAL transaction (well under a millisecond),
    cheaper than handing it to a thread, so it is called straight from the event loop."""

    def __init__(self, path: Path, now: Callable[[], datetime] = utcnow) -> None:
        self.path = path
        self._now = now  # the service's wall clock, so a test's fake clock dates the records too
        self.problem: str | None = None  # why the last write failed, until one succeeds again
        self.on_problem: Callable[[str | None], None] | None = None  # told when `problem` changes
        # Ends and answers of runs that could not be written (a full disk): written before anything
        # else once writing works again, so no completion is lost. Cues are not kept: a cue's record
        # is the moment's, and a long outage would pile them up.
        self._owed: list[tuple[str, tuple[Any, ...]]] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # WAL keeps readers (`homeflow history`) from blocking the service; NORMAL sync survives a
            # killed process (only a power cut may lose the last transactions).
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(f"journal {path} was written by a newer homeflow (schema {version})")
            self._db.executescript(SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                for sql, args in self._owed:
                    self._db.execute(sql, args)
                yield self._db
        except sqlite3.Error as exc:
            self._set_problem(f"cannot write journal {self.path}: {exc}")
            raise JournalError(self.problem) from None
        self._owed.clear()
        self._set_problem(None)

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
            log.info("journal %s is written again", self.path)
        else:
            log.warning("%s; homeflow goes on, and writes what it owes once it can", problem)
        self.problem = problem
        if self.on_problem is not None:
            self.on_problem(problem)

    def start_run(
        self, routine: str, trigger: str, reps: int, planned_s: float, snapshot: dict[str, LightSnapshot]
    ) -> int:
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO runs (routine, trigger, started_at, reps, planned_s, light_snapshot)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (routine, trigger, self._now().isoformat(), reps, planned_s, json.dumps(snapshot)),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def set_planned(self, run_id: int, planned_s: float) -> None:
        with self._write() as db:
            db.execute("UPDATE runs SET planned_s = ? WHERE id = ?", (planned_s, run_id))

    def record_cue(self, run_id: int, index: int, cue: Cue, late_s: float) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO cues (run_id, idx, kind, step, text, planned_at, late_s, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, index, str(cue.kind), cue.step, cue.text, cue.at, late_s, self._now().isoformat()),
            )

    def record_speaker_failure(self, run_id: int, index: int, speaker: str, error: str) -> None:
        """A cue that `speaker` could not say, and why."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO speaker_failures (run_id, idx, speaker, error, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (run_id, index, speaker, error, self._now().isoformat()),
            )

    def speaker_failures(self, run_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT idx, speaker, error, at FROM speaker_failures WHERE run_id = ? ORDER BY idx, speaker",
            (run_id,),
        ).fetchall()
        return [dict(zip(("index", "speaker", "error", "at"), row, strict=True)) for row in rows]

    def finish_run(self, run_id: int, status: RunStatus) -> None:
        """Close a run; a run already closed keeps its first status (a completion is logged once)."""
        self._owe(
            "UPDATE runs SET status = ?, ended_at = ? WHERE id = ? AND status = 'running'",
            (str(status), self._now().isoformat(), run_id),
        )

    def set_feedback(self, run_id: int, feedback: Feedback | None) -> None:
        """A run's answer; a run keeps its first one (a second answer to it changes nothing)."""
        self._owe("UPDATE runs SET feedback = ? WHERE id = ? AND feedback IS NULL", (feedback, run_id))

    def runs(
        self, routine: str | None = None, limit: int = 50, status: RunStatus | None = None
    ) -> list[RunRecord]:
        """Runs, newest first."""
        query = "SELECT r.*, (SELECT count(*) FROM cues c WHERE c.run_id = r.id) FROM runs r WHERE 1=1"
        args: list[Any] = []
        if routine is not None:
            query += " AND routine = ?"
            args.append(routine)
        if status is not None:
            query += " AND status = ?"
            args.append(str(status))
        query += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        try:
            rows = self._db.execute(query, args).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read journal {self.path}: {exc}") from None
        return [_record(row) for row in rows]

    def last_completed(self, routine: str) -> RunRecord | None:
        """The latest completed run of `routine`: what a late answer answers."""
        found = self.runs(routine, limit=1, status=RunStatus.COMPLETED)
        return found[0] if found else None

    def unfinished_runs(self) -> list[RunRecord]:
        return self.runs(status=RunStatus.RUNNING, limit=1000)

    def feedback_history(self, routine: str) -> list[Feedback | None]:
        """Feedback of completed runs of `routine`, oldest first: what progression replays."""
        try:
            rows = self._db.execute(
                "SELECT feedback FROM runs WHERE routine = ? AND status = 'completed' ORDER BY id", (routine,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read journal {self.path}: {exc}") from None
        return [Feedback(f) if f else None for (f,) in rows]

    def completed_days(self, routine: str, tz: tzinfo | None = None, days: int = 400) -> list[date]:
        """Local dates with at least one completed run of `routine`, newest first."""
        since = (self._now() - timedelta(days=days)).isoformat()
        rows = self._db.execute(
            "SELECT started_at FROM runs WHERE routine = ? AND status = 'completed' AND started_at >= ?"
            " ORDER BY started_at DESC",
            (routine, since),
        ).fetchall()
        local = (datetime.fromisoformat(started).astimezone(tz).date() for (started,) in rows)
        return list(dict.fromkeys(local))

    def completed_today(self, routine: str, tz: tzinfo | None = None) -> tuple[int, datetime | None]:
        """How many runs of `routine` completed since local midnight, and when the last one ended."""
        now = self._now().astimezone(tz)
        midnight = datetime.combine(now.date(), time(), now.tzinfo)
        # Both read backwards along the (routine, started_at) index: the cost does not grow with history.
        count, last = self._db.execute(
            "SELECT (SELECT count(*) FROM runs"
            "        WHERE routine = ? AND status = 'completed' AND started_at >= ?),"
            " (SELECT ended_at FROM runs WHERE routine = ? AND status = 'completed'"
            "  ORDER BY started_at DESC LIMIT 1)",
            (routine, midnight.astimezone(UTC).isoformat(), routine),
        ).fetchone()
        return count, datetime.fromisoformat(last) if last else None

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
        rows = self._db.execute(
            "SELECT started_at, reps FROM runs WHERE routine = ? AND status = 'completed' ORDER BY id",
            (routine,),
        ).fetchall()
        changes: list[tuple[str, int]] = []
        for started, reps in rows:
            if not changes or changes[-1][1] != reps:
                changes.append((started[:10], reps))
        return changes

    def cues(self, run_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT idx, kind, step, text, planned_at, late_s, at FROM cues WHERE run_id = ? ORDER BY idx",
            (run_id,),
        ).fetchall()
        keys = ("index", "kind", "step", "text", "planned_at", "late_s", "at")
        return [dict(zip(keys, row, strict=True)) for row in rows]


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


def _record(row: tuple[Any, ...]) -> RunRecord:
    (id_, routine, trigger, started, ended, status, reps, planned, snapshot, feedback, cues) = row
    return RunRecord(
        id=id_,
        routine=routine,
        trigger=trigger,
        started_at=datetime.fromisoformat(started),
        ended_at=datetime.fromisoformat(ended) if ended else None,
        status=RunStatus(status),
        reps=reps,
        planned_s=planned,
        light_snapshot=json.loads(snapshot),
        feedback=Feedback(feedback) if feedback else None,
        cues=cues,
    )
