"""What the figures at the end of a run cost with a long journal: `Journal.stats` with 10, 10,000 and
100,000 past runs, and the next level after a late answer, on SQLite and PostgreSQL; homeflow's CPU
while presses arrive with a fresh journal and with 100,000 past runs: `python -m bench.history`
(about two minutes). Prints JSON."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from bench.common import machine
from bench.history_presses import presses
from homeflow.journal import Journal, RunStatus, open_journal, streak
from homeflow.routine.model import Reps
from homeflow.routine.progression import Feedback, next_level
from homeflow.settings.model import Database
from tests.postgres import Postgres

SIZES = (10, 10_000, 100_000)
RUNS_A_DAY = 41  # a clinic: 15,000 runs a year
ENDS = 30  # ends of runs timed per size
REPS = Reps()
NOW = datetime(2026, 12, 8, 6, 0, tzinfo=UTC)
INSERT = (
    "INSERT INTO runs (routine, trigger, started_at, ended_at, status, reps, planned_s)"
    " VALUES ({0}, 'bench', {0}, {0}, 'completed', 5, 240.0)"
)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def past(runs: int) -> list[tuple[str, datetime, datetime]]:
    """`runs` completed runs of routine `a`, RUNS_A_DAY a day, up to now."""
    starts = [NOW - timedelta(days=n // RUNS_A_DAY, minutes=10 * (n % RUNS_A_DAY) + 60) for n in range(runs)]
    return [("a", started, started + timedelta(minutes=4)) for started in reversed(starts)]


def seed_sqlite(path: Path, runs: int) -> None:
    with sqlite3.connect(path) as db:
        rows = [(r, s.isoformat(), e.isoformat()) for r, s, e in past(runs)]
        db.executemany(INSERT.format("?"), rows)


def seed_postgres(url: str, runs: int) -> None:
    with psycopg.connect(url) as db, db.cursor() as cursor:
        cursor.executemany(INSERT.format("%s"), past(runs))
        db.execute("ANALYZE runs")  # what autovacuum does after many rows


def ms(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def before(journal: Journal) -> None:
    """The figures as they were counted before streaks were kept: from every completed run's day."""
    journal.completed_today("a")
    streak(journal.completed_days("a"), journal._now().date())


def measure(where: Path | Database, seed: Callable[[], None]) -> dict[str, float]:
    clock = Clock()
    with open_journal(where, now=clock):
        pass  # the schema
    seed()
    with open_journal(where, now=clock) as journal:
        old = statistics.median(ms(lambda: before(journal)) for _ in range(5))
        first = ms(lambda: journal.stats("a"))
        old_level = statistics.median(
            ms(lambda: next_level(REPS, journal.feedback_history("a"))) for _ in range(5)
        )
        journal.next_level("a", REPS)  # at start-up
        ends, answers = [], []
        for _ in range(ENDS):
            clock.now += timedelta(minutes=10)
            run = journal.start_run("a", "bench", 5, 240.0, {})
            journal.finish_run(run, RunStatus.COMPLETED)
            ends.append(ms(lambda: journal.stats("a")))
            journal.set_feedback(run, Feedback.GOOD)  # a late answer
            answers.append(ms(lambda: journal.next_level("a", REPS)))
    return {
        "stats_ms_median": round(statistics.median(ends), 3),
        "stats_ms_max": round(max(ends), 3),
        "first_after_upgrade_ms": round(first, 3),
        "before_ms_median": round(old, 3),
        "level_ms_median": round(statistics.median(answers), 3),
        "level_before_ms_median": round(old_level, 3),
    }


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    server = Postgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def main() -> None:
    pressed = [asyncio.run(presses(runs)) for runs in (0, 100_000)]
    print(pressed, file=sys.stderr)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder, postgres() as server:
        for runs in SIZES:
            path = Path(folder) / f"{runs}.db"
            database = server.database()
            rows.append({"store": "sqlite", "runs": runs, **measure(path, partial(seed_sqlite, path, runs))})
            print(rows[-1], file=sys.stderr)
            seeded = partial(seed_postgres, database.url, runs)
            rows.append({"store": "postgresql", "runs": runs, **measure(database, seeded)})
            print(rows[-1], file=sys.stderr)
    measured = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
    print(
        json.dumps({"measured": measured, "machine": machine(), "rows": rows, "presses": pressed}, indent=1)
    )


if __name__ == "__main__":
    main()
