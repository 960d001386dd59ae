"""The journal in one SQLite file: the default, for one homeflow on one machine."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from homeflow import jsontext
from homeflow.devices.base import LightSnapshot
from homeflow.journal.base import (
    FORGET_LEVELS,
    NO_PROFILE,
    CueRow,
    Executes,
    Journal,
    JournalError,
    Person,
    RunRecord,
    RunStatus,
    heard_by,
    run_record,
    runs_query,
    safety_query,
    utcnow,
    whose,
)
from homeflow.journal.kept_sql import (
    answers,
    answers_after_query,
    keep_level_query,
    kept_level,
    kept_level_query,
)
from homeflow.journal.levels import KeptLevel
from homeflow.journal.streaks import Streak
from homeflow.routine.model import Reps
from homeflow.routine.progression import Feedback

log = logging.getLogger(__name__)

# Migration N takes a journal from schema N to N + 1; `PRAGMA user_version` is the schema a file is at.
# Tables are created IF NOT EXISTS: a file from before user_version was kept is at 0 with tables.
MIGRATIONS = (
    """
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
    """,
    """
    CREATE TABLE IF NOT EXISTS speaker_failures (
        run_id INTEGER NOT NULL REFERENCES runs (id),
        idx INTEGER NOT NULL,
        speaker TEXT NOT NULL,
        error TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (run_id, idx, speaker)
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS safety_heard (
        routine TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        at TEXT NOT NULL
    );
    """,
    # Whose run it was (homeflow.settings `profiles`); runs from before name none.
    """
    ALTER TABLE runs ADD COLUMN profile TEXT;
    """,
    # A run's pause, kept for a take-over (homeflow.takeover).
    """
    ALTER TABLE runs ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
    """,
    # The safety introduction heard per person (homeflow.journal.base.NO_PROFILE: what was heard before).
    """
    CREATE TABLE safety_heard_by_person (
        routine TEXT NOT NULL,
        profile TEXT NOT NULL DEFAULT '',
        fingerprint TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (routine, profile)
    );
    INSERT INTO safety_heard_by_person (routine, profile, fingerprint, at)
        SELECT routine, '', fingerprint, at FROM safety_heard;
    DROP TABLE safety_heard;
    ALTER TABLE safety_heard_by_person RENAME TO safety_heard;
    """,
    # Each person's streak of days, kept up to date (homeflow.journal.streaks); the runs since, by id.
    """
    CREATE TABLE streaks (
        routine TEXT NOT NULL,
        person TEXT NOT NULL,
        first INTEGER NOT NULL,
        tz TEXT NOT NULL,
        through INTEGER NOT NULL,
        last_day TEXT,
        days INTEGER NOT NULL,
        PRIMARY KEY (routine, person, first, tz)
    );
    CREATE INDEX runs_by_routine_id ON runs (routine, id);
    """,
    # Each person's next level, kept up to date (homeflow.journal.levels).
    """
    CREATE TABLE levels (
        routine TEXT NOT NULL,
        person TEXT NOT NULL,
        first INTEGER NOT NULL,
        reps_setting TEXT NOT NULL,
        through INTEGER NOT NULL,
        last_run INTEGER NOT NULL,
        reps INTEGER NOT NULL,
        reason TEXT NOT NULL,
        went_up INTEGER NOT NULL,
        good_in_row INTEGER NOT NULL,
        gentle INTEGER NOT NULL,
        PRIMARY KEY (routine, person, first, reps_setting)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class SqliteJournal(Journal):
    """Each write is one small WAL transaction."""

    def __init__(self, path: Path, now: Callable[[], datetime] = utcnow) -> None:
        super().__init__(str(path), now)
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # WAL keeps readers (`homeflow history`) from blocking the service; NORMAL sync survives a
            # killed process (only a power cut may lose the last transactions).
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from None

    def _migrate(self) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")  # one homeflow migrates; another waits, then sees it done
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"journal {self.path} was written by a newer homeflow (schema {version}; this homeflow"
                    f" knows up to {SCHEMA_VERSION})"
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number + 1}")

    def close(self) -> None:
        self.write_cues()
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                for sql, args in self._owed:
                    self._db.execute(sql, args)
                yield self._db
        except sqlite3.Error as exc:
            raise self._failed(exc) from None
        self._paid()

    def _read(self, sql: str, args: tuple[Any, ...] | list[Any]) -> list[Any]:
        self.write_cues()
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read journal {self.path}: {exc}") from None

    def _snapshot(self, text: str) -> Any:
        try:
            return jsontext.loads(text)
        except ValueError as exc:
            # An older homeflow wrote a lamp's NaN as it came: no lamp takes that back.
            log.warning(
                "journal %s: a light snapshot is not JSON (%s), not restored: %s", self.path, exc, text[:200]
            )
            return {}

    def start_run(
        self,
        routine: str,
        trigger: str,
        reps: int,
        planned_s: float,
        snapshot: dict[str, LightSnapshot],
        *,
        profile: str | None = None,
    ) -> int:
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO runs (routine, trigger, started_at, reps, planned_s, light_snapshot, profile)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    routine,
                    trigger,
                    self._now().isoformat(),
                    reps,
                    planned_s,
                    jsontext.dumps(snapshot),
                    profile,
                ),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def set_planned(self, run_id: int, planned_s: float) -> None:
        with self._write() as db:
            db.execute("UPDATE runs SET planned_s = ? WHERE id = ?", (planned_s, run_id))

    def set_paused(self, run_id: int, paused: bool) -> None:
        with self._write() as db:
            db.execute("UPDATE runs SET paused = ? WHERE id = ?", (int(paused), run_id))

    def _insert_cues(self, db: Executes, rows: list[CueRow]) -> None:
        for *values, at in rows:  # one transaction: a statement each costs little
            db.execute(
                "INSERT OR REPLACE INTO cues (run_id, idx, kind, step, text, planned_at, late_s, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, at.isoformat()),
            )

    def record_speaker_failure(self, run_id: int, index: int, speaker: str, error: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO speaker_failures (run_id, idx, speaker, error, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (run_id, index, speaker, error, self._now().isoformat()),
            )

    def speaker_failures(self, run_id: int) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT idx, speaker, error, at FROM speaker_failures WHERE run_id = ? ORDER BY idx, speaker",
            (run_id,),
        )
        return [dict(zip(("index", "speaker", "error", "at"), row, strict=True)) for row in rows]

    def finish_run(self, run_id: int, status: RunStatus) -> None:
        self._owe(
            "UPDATE runs SET status = ?, ended_at = ? WHERE id = ? AND status = 'running'",
            (str(status), self._now().isoformat(), run_id),
        )

    def set_feedback(self, run_id: int, feedback: Feedback | None) -> None:
        self._owe(
            "UPDATE runs SET feedback = ? WHERE id = ? AND feedback IS NULL",
            (feedback, run_id),
            (FORGET_LEVELS.format("?"), (run_id, run_id, run_id)),
        )

    def runs(
        self,
        routine: str | None = None,
        limit: int = 50,
        status: RunStatus | None = None,
        person: Person | None = None,
    ) -> list[RunRecord]:
        query, args = runs_query("?", routine, limit, status, person)
        return [run_record(row, datetime.fromisoformat, self._snapshot) for row in self._read(query, args)]

    def feedback_history(self, routine: str, person: Person | None = None) -> list[Feedback | None]:
        clause, more = whose(person, "?")
        rows = self._read(
            "SELECT feedback FROM runs WHERE routine = ?"
            f" AND (status = 'completed' OR feedback IS NOT NULL){clause} ORDER BY id",
            (routine, *more),
        )
        return [Feedback(f) if f else None for (f,) in rows]

    def last_hurt(self, routine: str, person: Person | None = None) -> datetime | None:
        clause, more = whose(person, "?")
        rows = self._read(
            "SELECT COALESCE(ended_at, started_at) FROM runs"
            f" WHERE routine = ? AND feedback = 'hurt'{clause} ORDER BY id DESC LIMIT 1",
            (routine, *more),
        )
        return next((datetime.fromisoformat(ended) for (ended,) in rows), None)

    def _completed_starts(
        self, routine: str, since: datetime, until: datetime, person: Person | None
    ) -> list[datetime]:
        clause, more = whose(person, "?")
        rows = self._read(
            "SELECT started_at FROM runs WHERE routine = ? AND status = 'completed'"
            f" AND started_at >= ? AND started_at <= ?{clause} ORDER BY started_at DESC",
            (routine, _utc(since), _utc(until), *more),
        )
        return [datetime.fromisoformat(started) for (started,) in rows]

    def _completed_since(
        self, routine: str, midnight: datetime, until: datetime, person: Person | None
    ) -> tuple[int, datetime | None, datetime | None]:
        clause, more = whose(person, "?")
        done = f"routine = ? AND status = 'completed'{clause}"
        # All three read backwards along the (routine, started_at) index: the cost does not grow with
        # history.
        [(count, last, ahead)] = self._read(
            f"SELECT (SELECT count(*) FROM runs WHERE {done} AND started_at >= ? AND started_at <= ?),"
            f" (SELECT ended_at FROM runs WHERE {done} AND started_at <= ? AND ended_at <= ?"
            "  ORDER BY started_at DESC LIMIT 1),"
            f" (SELECT max(started_at) FROM runs WHERE {done} AND started_at > ?)",
            (
                *(routine, *more, _utc(midnight), _utc(until)),
                *(routine, *more, _utc(until), _utc(until)),
                *(routine, *more, _utc(until)),
            ),
        )
        return count, _when(last), _when(ahead)

    def _completed_levels(self, routine: str, person: Person | None) -> Iterator[tuple[datetime, int]]:
        clause, more = whose(person, "?")
        rows = self._read(
            f"SELECT started_at, reps FROM runs WHERE routine = ? AND status = 'completed'{clause}"
            " ORDER BY id",
            (routine, *more),
        )
        return ((datetime.fromisoformat(started), reps) for started, reps in rows)

    def _answers_after(
        self, routine: str, after: int, person: Person | None
    ) -> list[tuple[int, str, Feedback | None]]:
        return answers(self._read(*answers_after_query("?", routine, after, person)))

    def _kept_level(self, routine: str, where: tuple[str, bool, str], reps: Reps) -> KeptLevel | None:
        return kept_level(self._read(*kept_level_query("?", routine, where)))

    def _keep_level(self, routine: str, where: tuple[str, bool, str], kept: KeptLevel) -> None:
        sql, args = keep_level_query("?", routine, where, kept)
        with contextlib.suppress(sqlite3.Error):
            self._db.execute(sql, args)

    def _runs_after(self, routine: str, after: int, person: Person | None) -> list[tuple[int, datetime, str]]:
        clause, more = whose(person, "?")
        rows = self._read(
            f"SELECT id, started_at, status FROM runs WHERE routine = ? AND id > ?{clause} ORDER BY id",
            (routine, after, *more),
        )
        return [(id_, datetime.fromisoformat(started), status) for id_, started, status in rows]

    def _kept_streak(self, routine: str, where: tuple[str, bool, str]) -> Streak | None:
        rows = self._read(
            "SELECT through, last_day, days FROM streaks"
            " WHERE routine = ? AND person = ? AND first = ? AND tz = ?",
            (routine, *where),
        )
        return next(
            (
                Streak(through, date.fromisoformat(last) if last else None, days)
                for through, last, days in rows
            ),
            None,
        )

    def _keep_streak(self, routine: str, where: tuple[str, bool, str], streak: Streak) -> None:
        last = streak.last_day.isoformat() if streak.last_day else None
        with contextlib.suppress(sqlite3.Error):
            self._db.execute(
                "INSERT INTO streaks (routine, person, first, tz, through, last_day, days)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (routine, person, first, tz) DO UPDATE"
                " SET through = excluded.through, last_day = excluded.last_day, days = excluded.days"
                " WHERE excluded.through >= streaks.through",
                (routine, *where, streak.through, last, streak.days),
            )

    def cues(self, run_id: int) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT idx, kind, step, text, planned_at, late_s, at FROM cues WHERE run_id = ? ORDER BY idx",
            (run_id,),
        )
        keys = ("index", "kind", "step", "text", "planned_at", "late_s", "at")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def safety_heard(self, routine: str, person: Person | None = None) -> str | None:
        return heard_by(self._read(*safety_query("?", routine, person)), person)

    def record_safety(self, routine: str, fingerprint: str, profile: str | None = None) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO safety_heard (routine, profile, fingerprint, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (routine, profile) DO UPDATE SET fingerprint = excluded.fingerprint,"
                " at = excluded.at",
                (routine, profile or NO_PROFILE, fingerprint, self._now().isoformat()),
            )


def _utc(when: datetime) -> str:
    """`when` as the journal stores times: ISO 8601 text in UTC, which sorts as the times do."""
    return when.astimezone(UTC).isoformat()


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
