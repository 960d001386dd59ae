"""The figures an end of a run publishes cost the same with a short history and a long one, and come
out as they did when every completed run was read."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from homeflow.journal import Database, Journal, Person, RunStatus, open_journal, streak
from homeflow.journal.postgres import PostgresJournal
from homeflow.journal.sqlite import SqliteJournal
from homeflow.routine.model import Reps
from homeflow.routine.progression import Feedback, Level, next_level

from .postgres import Postgres

START = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
REPS = Reps(start=5, max=15, step=5, good_sessions_to_progress=2)
RUNS_A_DAY = 3  # a household that does its routine morning, noon and evening


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def seed(journal: Journal, clock: Clock, runs: int) -> None:
    """`runs` completed runs, RUNS_A_DAY a day, up to today."""
    days = (runs + RUNS_A_DAY - 1) // RUNS_A_DAY
    for n in range(runs):
        clock.now = START - timedelta(days=days - 1 - n // RUNS_A_DAY, hours=-4 * (n % RUNS_A_DAY))
        journal.finish_run(journal.start_run("a", "mqtt", 5, 10.0, {}), RunStatus.COMPLETED)


def one_more_run_then_stats(journal: Journal, clock: Clock, count: Callable[[], int]) -> int:
    """What the figures at the end of one more run cost, once the figures were published before."""
    journal.stats("a")
    clock.now += timedelta(hours=1)
    journal.finish_run(journal.start_run("a", "mqtt", 5, 10.0, {}), RunStatus.COMPLETED)
    before = count()
    journal.stats("a")
    return count() - before


def sqlite_steps(journal: Journal) -> Callable[[], int]:
    """The SQLite virtual machine's steps on the journal's connection: rows read are steps."""
    assert isinstance(journal, SqliteJournal)
    steps = itertools.count()
    journal._db.set_progress_handler(lambda: next(steps) and 0, 1)
    return lambda: next(steps)


def postgres_rows(journal: Journal) -> Callable[[], int]:
    """Rows PostgreSQL read from the runs table on the journal's connection, within one transaction."""
    assert isinstance(journal, PostgresJournal)
    db: psycopg.Connection[Any] = journal._db
    db.autocommit = False

    def count() -> int:
        row = db.execute(
            "SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0)"
            " FROM pg_stat_xact_user_tables WHERE relname = 'runs'"
        ).fetchone()
        assert row is not None
        return int(row[0])

    return count


def cost(where: Path | Database, runs: int) -> int:
    clock = Clock()
    with open_journal(where, now=clock) as journal:
        seed(journal, clock, runs)
        if isinstance(journal, SqliteJournal):
            return one_more_run_then_stats(journal, clock, sqlite_steps(journal))
        journal._db.execute("ANALYZE runs")  # what autovacuum does after many rows; then plans use indexes
        journal.stats("a")
        counter = postgres_rows(journal)
        try:
            return one_more_run_then_stats(journal, clock, counter)
        finally:
            journal._db.rollback()


def test_the_figures_at_the_end_of_a_run_cost_the_same_with_5000_past_runs(
    journal_at: Path | Database, postgres_if: Postgres | None, tmp_path: Path
) -> None:
    if postgres_if is None:
        short, long = cost(tmp_path / "short.db", 10), cost(tmp_path / "long.db", 5000)
    else:
        short, long = cost(journal_at, 10), cost(postgres_if.database(), 5000)
    assert 0 < long <= short * 1.2 + 20, (short, long)


def old_streak(journal: Journal, routine: str, tz: tzinfo | None, person: Person | None) -> int:
    """The streak as it was counted before: from every completed run's day."""
    today = journal._now().astimezone(tz).date()
    return streak(journal.completed_days(routine, tz, person=person), today)


def test_the_streaks_are_those_counted_from_every_run(journal_at: Path | Database) -> None:
    """Runs on days with gaps, late at night in Berlin, cancelled, one going while others complete,
    several people: after every run the kept streak is the one counted from every run."""
    clock = Clock()
    people = [None, Person("anna", first=True), Person("ben")]
    zones: list[tzinfo | None] = [None, ZoneInfo("Europe/Berlin")]
    gaps = [0, 1, 1, 0, 2, 1, 1, 1, 3, 0, 1, 1]
    with open_journal(journal_at, now=clock) as journal:
        going = None
        for n, gap in enumerate(gaps * 3):
            clock.now += timedelta(days=gap, hours=23 if n % 5 == 0 else 1)
            profile = [None, "anna", "ben"][n % 3]
            run = journal.start_run("a", "mqtt", 5, 10.0, {}, profile=profile)
            if n == 7:
                going = run  # still going while the next runs complete
                continue
            journal.finish_run(run, RunStatus.CANCELLED if n % 4 == 3 else RunStatus.COMPLETED)
            if n == 11 and going is not None:
                journal.finish_run(going, RunStatus.COMPLETED)
            for person, tz in itertools.product(people, zones):
                assert journal.stats("a", tz, person)["streak_days"] == old_streak(journal, "a", tz, person)
        clock.now += timedelta(days=2)
        for person, tz in itertools.product(people, zones):
            assert journal.stats("a", tz, person)["streak_days"] == old_streak(journal, "a", tz, person) == 0


def replayed(journal: Journal, person: Person | None) -> Level:
    """The next level as it was found before levels were kept: every answer replayed."""
    return next_level(REPS, journal.feedback_history("a", person))


def test_the_kept_levels_are_those_replayed_from_every_answer(journal_at: Path | Database) -> None:
    """Runs answered at once, late, not at all, an "it hurt" to a cancelled run, a late answer to an
    older run, one going while others complete, several people: after each, the kept next level is
    the one replayed from every answer."""
    clock = Clock()
    people = [None, Person("anna", first=True), Person("ben")]
    answers = [Feedback.GOOD, None, Feedback.GOOD, Feedback.GOOD, Feedback.TOO_MUCH, Feedback.HURT, None]
    with open_journal(journal_at, now=clock) as journal:
        runs: list[tuple[int, str | None]] = []
        going = None
        for n in range(40):
            clock.now += timedelta(hours=9)
            profile = [None, "anna", "ben", "anna"][n % 4]
            run = journal.start_run("a", "mqtt", 5, 10.0, {}, profile=profile)
            if n == 9:
                going = run
                continue
            journal.finish_run(run, RunStatus.CANCELLED if n % 6 == 5 else RunStatus.COMPLETED)
            if n % 6 == 5:
                journal.set_feedback(run, Feedback.HURT)  # "did it hurt?" after a cancel
            elif answer := answers[n % len(answers)]:
                journal.set_feedback(run, answer)
            if n % 7 == 6:  # a late answer to an earlier run of someone's
                older, _ = runs[-3]
                journal.set_feedback(older, Feedback.GOOD)
            if n == 15 and going is not None:
                journal.finish_run(going, RunStatus.COMPLETED)
            runs.append((run, profile))
            for person in people:
                assert journal.next_level("a", REPS, person) == replayed(journal, person)


def test_a_late_answer_costs_the_same_with_5000_past_runs(
    journal_at: Path | Database, postgres_if: Postgres | None, tmp_path: Path
) -> None:
    if postgres_if is None:
        short, long = answer_cost(tmp_path / "short.db", 10), answer_cost(tmp_path / "long.db", 5000)
    else:
        short, long = answer_cost(journal_at, 10), answer_cost(postgres_if.database(), 5000)
    assert 0 < long <= short * 1.2 + 20, (short, long)


def answer_cost(where: Path | Database, runs: int) -> int:
    """What finding the next level costs when the last run is answered late, once levels were found."""
    clock = Clock()
    with open_journal(where, now=clock) as journal:
        seed(journal, clock, runs)
        if isinstance(journal, PostgresJournal):
            journal._db.execute("ANALYZE runs")
        journal.next_level("a", REPS)
        counter = sqlite_steps(journal) if isinstance(journal, SqliteJournal) else postgres_rows(journal)
        try:
            clock.now += timedelta(hours=1)
            run = journal.start_run("a", "mqtt", 5, 10.0, {})
            journal.finish_run(run, RunStatus.COMPLETED)
            journal.next_level("a", REPS)  # its end, unanswered
            journal.set_feedback(run, Feedback.GOOD)
            before = counter()
            level = journal.next_level("a", REPS)
            spent = counter() - before
            assert level == replayed(journal, None)
            return spent
        finally:
            if isinstance(journal, PostgresJournal):
                journal._db.rollback()
