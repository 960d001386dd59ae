"""The journal on a real SQLite file and on a real PostgreSQL: every test runs against both stores."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from homeflow.journal import Database, JournalError, Person, RunStatus, open_journal, streak
from homeflow.journal import postgres as pg_journal
from homeflow.journal import sqlite as sqlite_journal
from homeflow.routine.plan import Cue, CueKind
from homeflow.routine.progression import Feedback

from .mosquitto import free_port
from .postgres import Postgres


def test_a_run_is_kept_with_its_cues_and_snapshot(journal_at: Path | Database) -> None:
    with open_journal(journal_at) as journal:
        run = journal.start_run("back-massage", "button:massage", 5, 412.5, {"lamp": {"state": "ON"}})
        journal.record_cue(run, 0, Cue(0.0, CueKind.SAY, 0, text="Hello."), 0.001)
        journal.record_cue(run, 1, Cue(3.0, CueKind.COUNT, 0, text="One."), 0.002)
        journal.finish_run(run, RunStatus.COMPLETED)
        journal.finish_run(run, RunStatus.INTERRUPTED)  # a completion is logged once
    with open_journal(journal_at) as journal:
        [record] = journal.runs()
        assert (record.routine, record.status, record.reps, record.cues) == (
            "back-massage",
            "completed",
            5,
            2,
        )
        assert record.light_snapshot == {"lamp": {"state": "ON"}}
        assert record.ended_at is not None
        assert record.ended_at >= record.started_at
        assert [c["text"] for c in journal.cues(run)] == ["Hello.", "One."]
        assert journal.unfinished_runs() == []
        assert record.to_json()["started_at"] == record.started_at.isoformat()
    if isinstance(journal_at, Path):
        mode = sqlite3.connect(journal_at).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_unfinished_runs_and_feedback_history(journal_at: Path | Database) -> None:
    with open_journal(journal_at) as journal:
        first = journal.start_run("a", "mqtt", 5, 10.0, {})
        journal.finish_run(first, RunStatus.COMPLETED)
        journal.set_feedback(first, Feedback.GOOD)
        journal.set_feedback(first, Feedback.HURT)  # a run keeps its first answer
        cancelled = journal.start_run("a", "mqtt", 5, 10.0, {})
        journal.finish_run(cancelled, RunStatus.CANCELLED)
        second = journal.start_run("a", "mqtt", 5, 10.0, {})
        journal.finish_run(second, RunStatus.COMPLETED)
        open_run = journal.start_run("a", "mqtt", 5, 10.0, {"lamp": {"brightness": 3}})
        assert [r.id for r in journal.unfinished_runs()] == [open_run]
        assert journal.unfinished_runs()[0].light_snapshot == {"lamp": {"brightness": 3}}
        assert journal.feedback_history("a") == [Feedback.GOOD, None]
        assert [r.id for r in journal.runs(routine="a", limit=2)] == [open_run, second]
        assert [r.feedback for r in journal.runs(status=RunStatus.COMPLETED)] == [None, Feedback.GOOD]
        last = journal.last_completed("a")
        assert last is not None
        assert last.id == second


def test_days_streak_today_and_levels_follow_the_clock(journal_at: Path | Database) -> None:
    now = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    with open_journal(journal_at, now=lambda: now) as journal:
        for days_ago, reps in ((3, 5), (1, 5), (1, 6), (0, 7)):
            now = datetime(2026, 3, 30, 9, 0, tzinfo=UTC) - timedelta(days=days_ago)
            run = journal.start_run("a", "mqtt", reps, 10.0, {})
            now += timedelta(minutes=10)
            journal.finish_run(run, RunStatus.COMPLETED)
        journal.finish_run(journal.start_run("b", "mqtt", 5, 10.0, {}), RunStatus.COMPLETED)
        assert journal.completed_days("a") == [date(2026, 3, 30), date(2026, 3, 29), date(2026, 3, 27)]
        assert journal.completed_today("a") == (1, datetime(2026, 3, 30, 9, 10, tzinfo=UTC))
        assert journal.stats("a") == {
            "last_completed": "2026-03-30T09:10:00+00:00",
            "streak_days": 2,
            "completed_today": 1,
        }
        assert journal.levels("a") == [("2026-03-27", 5), ("2026-03-29", 6), ("2026-03-30", 7)]
        assert journal.completed_today("none") == (0, None)


def test_a_snapshot_an_older_homeflow_journaled_with_nan_is_read_as_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "journal.db"
    with open_journal(path) as journal:
        run = journal.start_run("a", "mqtt", 5, 10.0, {})
    with sqlite3.connect(path) as db:  # as homeflow wrote a lamp's NaN before it refused one
        db.execute("UPDATE runs SET light_snapshot = ? WHERE id = ?", ('{"lamp": {"color_temp": NaN}}', run))
    with open_journal(path) as journal:
        [record] = journal.unfinished_runs()
    assert record.light_snapshot == {}
    [warned] = [r.getMessage() for r in caplog.records if "light snapshot" in r.getMessage()]
    assert "NaN is not a JSON number" in warned


def test_a_completion_dated_ahead_counts_neither_today_nor_for_the_streak(
    journal_at: Path | Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="homeflow")
    today = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    now = today
    with open_journal(journal_at, now=lambda: now) as journal:
        for when in (today - timedelta(days=2), today - timedelta(days=1), today + timedelta(days=2)):
            now = when  # the last one: the clock two days ahead
            run = journal.start_run("a", "mqtt", 5, 10.0, {})
            now += timedelta(minutes=10)
            journal.finish_run(run, RunStatus.COMPLETED)
        now = today + timedelta(minutes=5)  # the clock set right again
        assert journal.completed_today("a") == (0, datetime(2026, 3, 29, 9, 10, tzinfo=UTC))
        assert journal.stats("a") == {
            "last_completed": "2026-03-29T09:10:00+00:00",
            "streak_days": 2,
            "completed_today": 0,
        }
        assert journal.completed_today("a") == (0, datetime(2026, 3, 29, 9, 10, tzinfo=UTC))
        now = today + timedelta(minutes=8)  # a run a few minutes ahead (another instance's clock) counts
        journal.finish_run(journal.start_run("a", "mqtt", 5, 10.0, {}), RunStatus.COMPLETED)
        now = today + timedelta(minutes=5)
        assert journal.completed_today("a")[0] == 1
    warned = [r.getMessage() for r in caplog.records if "after now" in r.getMessage()]
    assert len(warned) == 1, warned  # once, not on every press
    assert "completed run of a is dated 2026-04-01T09:00:00+00:00" in warned[0]


def test_each_profile_has_its_own_history_and_the_first_also_the_runs_before_profiles(
    journal_at: Path | Database,
) -> None:
    now = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    with open_journal(journal_at, now=lambda: now) as journal:
        before = journal.start_run("a", "mqtt", 5, 10.0, {})  # from before profiles: no profile
        journal.finish_run(before, RunStatus.COMPLETED)
        journal.set_feedback(before, Feedback.GOOD)
        now += timedelta(days=1)
        for profile, answer in (("anna", Feedback.GOOD), ("ben", Feedback.TOO_MUCH), ("anna", None)):
            run = journal.start_run("a", "button:hall", 5, 10.0, {}, profile=profile)
            journal.finish_run(run, RunStatus.COMPLETED)
            journal.set_feedback(run, answer)
        anna, ben = Person("anna", first=True), Person("ben")
        assert journal.feedback_history("a", anna) == [Feedback.GOOD, Feedback.GOOD, None]
        assert journal.feedback_history("a", ben) == [Feedback.TOO_MUCH]
        assert journal.feedback_history("a") == [Feedback.GOOD, Feedback.GOOD, Feedback.TOO_MUCH, None]
        assert journal.completed_today("a", person=ben)[0] == 1
        assert journal.completed_today("a", person=anna)[0] == 2
        assert journal.stats("a", person=anna)["streak_days"] == 2
        assert journal.stats("a", person=ben)["streak_days"] == 1
        assert journal.stats("a", person=Person("cleo"))["last_completed"] is None
        assert [r.profile for r in journal.runs("a")] == ["anna", "ben", "anna", None]
        assert journal.runs("a")[0].to_json()["profile"] == "anna"
        assert [r.profile for r in journal.runs("a", person=ben)] == ["ben"]
        assert journal.levels("a", ben) == [("2026-03-31", 5)]


def test_cues_and_speaker_failures_keep_the_last_word(journal_at: Path | Database) -> None:
    with open_journal(journal_at) as journal:
        run = journal.start_run("a", "mqtt", 5, 10.0, {})
        journal.set_planned(run, 99.5)
        journal.record_cue(run, 0, Cue(0.0, CueKind.SAY, 0, text="Hello."), 0.5)
        journal.record_cue(run, 0, Cue(0.0, CueKind.SAY, 0, text="Hello again."), 0.25)  # resumed
        journal.record_speaker_failure(run, 0, "kitchen", "timed out")
        journal.record_speaker_failure(run, 0, "kitchen", "cannot connect")
        [cue] = journal.cues(run)
        assert {k: cue[k] for k in ("index", "kind", "step", "text", "planned_at", "late_s")} == {
            "index": 0,
            "kind": "say",
            "step": 0,
            "text": "Hello again.",
            "planned_at": 0.0,
            "late_s": 0.25,
        }
        assert datetime.fromisoformat(cue["at"]).tzinfo is not None
        [failure] = journal.speaker_failures(run)
        assert (failure["index"], failure["speaker"], failure["error"]) == (0, "kitchen", "cannot connect")
        assert journal.runs()[0].planned_s == 99.5


def test_the_safety_introduction_heard_is_kept_per_routine(journal_at: Path | Database) -> None:
    with open_journal(journal_at) as journal:
        assert journal.safety_heard("a") is None
        journal.record_safety("a", "first text")
        journal.record_safety("b", "its own")
        journal.record_safety("a", "changed text")  # the routine's safety text changed, and was heard
    with open_journal(journal_at) as journal:
        heard = [journal.safety_heard(routine) for routine in ("a", "b", "c")]
        assert heard == ["changed text", "its own", None]


def test_the_safety_introduction_heard_is_kept_per_person(journal_at: Path | Database) -> None:
    anna, ben = Person("anna", first=True), Person("ben")
    with open_journal(journal_at) as journal:
        journal.record_safety("a", "before profiles")  # the implicit person: later the first profile's
        assert [journal.safety_heard("a", who) for who in (None, anna, ben)] == [
            "before profiles",
            "before profiles",
            None,  # the second person has heard nothing
        ]
        journal.record_safety("a", "changed", "ben")
        journal.record_safety("a", "changed again", "anna")
    with open_journal(journal_at) as journal:
        heard = [journal.safety_heard("a", who) for who in (None, anna, ben, Person("cleo"))]
        assert heard == ["before profiles", "changed again", "changed", None]
        assert journal.safety_heard("b", anna) is None


def old_safety_journal(journal_at: Path | Database, postgres_if: Postgres | None) -> None:
    """A journal at the schema before safety was kept per person, in which the introduction of routine
    "a" was heard."""
    if isinstance(journal_at, Path):
        old = sqlite3.connect(journal_at)
        old.executescript(
            "".join(sqlite_journal.MIGRATIONS[:5])
            + "INSERT INTO safety_heard VALUES ('a', 'heard before', '2026-01-01T08:00:00+00:00');"
            + "PRAGMA user_version=5;"
        )
        old.close()
        return
    assert postgres_if is not None
    tables = ("runs", "cues", "speaker_failures", "safety_heard", "instances", "leases", "schema_version")
    postgres_if.sql(
        journal_at,
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL"
        f" DEFAULT now()); {';'.join(pg_journal.MIGRATIONS[:6])};"
        " INSERT INTO schema_version VALUES (1), (2), (3), (4), (5), (6);"
        " INSERT INTO safety_heard VALUES ('a', 'heard before', now());"
        + "".join(f" ALTER TABLE {table} OWNER TO homeflow;" for table in tables),
    )


def test_the_safety_heard_before_is_the_first_profiles_after_the_upgrade(
    journal_at: Path | Database, postgres_if: Postgres | None
) -> None:
    old_safety_journal(journal_at, postgres_if)
    with open_journal(journal_at) as journal:
        assert journal.safety_heard("a") == "heard before"  # a routine without profiles: as before
        assert journal.safety_heard("a", Person("anna", first=True)) == "heard before"
        assert journal.safety_heard("a", Person("ben")) is None
        journal.record_safety("a", "heard by ben", "ben")
        assert journal.safety_heard("a", Person("ben")) == "heard by ben"
        assert journal.safety_heard("a") == "heard before"


def test_a_new_journal_is_migrated_to_the_current_schema(
    journal_at: Path | Database, postgres_if: Postgres | None
) -> None:
    with open_journal(journal_at):
        pass
    with open_journal(journal_at):  # opening again applies nothing twice
        pass
    if isinstance(journal_at, Path):
        version = sqlite3.connect(journal_at).execute("PRAGMA user_version").fetchone()[0]
        assert version == sqlite_journal.SCHEMA_VERSION == 8
    else:
        assert postgres_if is not None
        versions = postgres_if.sql(journal_at, "SELECT string_agg(version::text, ',') FROM schema_version")
        assert versions == "1,2,3,4,5,6,7,8,9" and pg_journal.SCHEMA_VERSION == 9


def test_a_journal_newer_than_this_homeflow_is_refused_in_one_line(
    journal_at: Path | Database, postgres_if: Postgres | None
) -> None:
    with open_journal(journal_at):
        pass
    if isinstance(journal_at, Path):
        sqlite3.connect(journal_at).execute("PRAGMA user_version=99").connection.close()
    else:
        assert postgres_if is not None
        postgres_if.sql(journal_at, "INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(JournalError) as caught:
        open_journal(journal_at)
    known = 8 if isinstance(journal_at, Path) else 9  # PostgreSQL's fourth: the cluster's leases
    assert str(caught.value) == (
        f"journal {journal_at} was written by a newer homeflow (schema 99; this homeflow knows up to {known})"
    )


def test_a_postgresql_journal_at_schema_1_is_upgraded(postgres: Postgres) -> None:
    database = postgres.database()
    postgres.sql(
        database,
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL"
        f" DEFAULT now()); {pg_journal.MIGRATIONS[0]}; INSERT INTO schema_version VALUES (1);"
        f" ALTER TABLE runs OWNER TO homeflow; ALTER TABLE cues OWNER TO homeflow;"
        " ALTER TABLE schema_version OWNER TO homeflow;"
        " INSERT INTO runs (routine, trigger, started_at, ended_at, status, reps, planned_s) VALUES"
        " ('a', 'mqtt', '2026-01-01T08:00:00+00', '2026-01-01T08:10:00+00', 'completed', 5, 600)",
    )
    with open_journal(database) as journal:
        [run] = journal.runs()
        assert (run.routine, run.status, run.started_at) == (
            "a",
            RunStatus.COMPLETED,
            datetime(2026, 1, 1, 8, tzinfo=UTC),
        )
        journal.record_speaker_failure(run.id, 3, "kitchen", "Sonos at 10.0.0.2: cannot connect")
        assert [f["error"] for f in journal.speaker_failures(run.id)] == ["Sonos at 10.0.0.2: cannot connect"]
        assert journal.safety_heard("a") is None
    assert postgres.sql(database, "SELECT max(version) FROM schema_version") == str(pg_journal.SCHEMA_VERSION)
    with open_journal(database) as journal:
        assert journal.runs()[0].profile is None


def test_an_unreachable_postgresql_is_one_line_without_the_password() -> None:
    port = free_port()  # nothing listens there
    database = Database(f"postgresql://homeflow:s3cret-pw@127.0.0.1:{port}/homeflow")
    with pytest.raises(JournalError) as caught:
        open_journal(database)
    assert str(caught.value) == (
        f"cannot reach journal postgresql://homeflow@127.0.0.1:{port}/homeflow: "
        "connection refused; is PostgreSQL running?"
    )
    assert "s3cret" not in repr(database)


def test_a_lost_postgresql_connection_is_taken_up_again_and_what_is_owed_written(
    postgres: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_journal, "RECONNECT_EVERY_S", 0.0)
    monkeypatch.setattr(pg_journal, "RECONNECT_BACKOFF", 0)
    database = postgres.database()
    problems: list[str | None] = []
    with open_journal(database) as journal:
        journal.on_problem = problems.append
        run = journal.start_run("a", "mqtt", 5, 10.0, {})
        name = database.url.rpartition("/")[2]
        postgres.sql(
            database,
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            " AND pid <> pg_backend_pid()",
        )
        with pytest.raises(JournalError):
            journal.finish_run(run, RunStatus.COMPLETED)  # owed
        assert journal.problem is not None and journal.problem.startswith(f"cannot write journal {database}")
        journal.record_cue(run, 0, Cue(0.0, CueKind.SAY, 0, text="Hello."), 0.0)  # connects again
        assert journal.problem is None
        assert problems == [problems[0], None]
        [record] = journal.runs()
        assert (record.status, record.cues) == (RunStatus.COMPLETED, 1)


def test_streak_counts_consecutive_days_back_from_today_or_yesterday() -> None:
    today = date(2026, 3, 30)
    assert streak([date(2026, 3, 30), date(2026, 3, 29), date(2026, 3, 28), date(2026, 3, 26)], today) == 3
    assert streak([date(2026, 3, 29), date(2026, 3, 28)], today) == 2  # today is not over yet
    assert streak([date(2026, 3, 28)], today) == 0
    assert streak([], today) == 0


async def test_the_cues_of_one_moment_are_read_back_at_once_and_kept(journal_at: Path | Database) -> None:
    with open_journal(journal_at) as journal:
        run = journal.start_run("a", "mqtt", 5, 10.0, {})
        for index in range(50):
            journal.record_cue(run, index, Cue(float(index), CueKind.COUNT, 0, text=f"{index}."), 0.0)
        assert len(journal.cues(run)) == 50  # a read in the same moment sees them
        journal.record_cue(run, 50, Cue(50.0, CueKind.END, 0), 0.0)
        await asyncio.sleep(0)  # the moment passes
        with open_journal(journal_at) as other:  # another reader (another homeflow) sees them too
            assert len(other.cues(run)) == 51
        journal.record_cue(run, 51, Cue(51.0, CueKind.END, 0), 0.0)
    with open_journal(journal_at) as journal:  # closing writes what is left
        assert len(journal.cues(run)) == 52


async def test_the_cues_of_one_moment_are_one_transaction(postgres: Postgres) -> None:
    """Many rooms' cues fall due at once: a transaction (a round trip to PostgreSQL) each would hold
    the loop for all of them."""
    database = postgres.database()
    with open_journal(database) as journal:  # its schema, a run: a handful of transactions
        run = journal.start_run("a", "mqtt", 5, 10.0, {})
        for index in range(200):
            journal.record_cue(run, index, Cue(float(index), CueKind.COUNT, 0, text=f"{index}."), 0.0)
        await asyncio.sleep(0)
        assert len(journal.cues(run)) == 200
    assert commits(postgres, database) < 30


def commits(postgres: Postgres, database: Database) -> int:
    """Transactions committed in `database` once its sessions have ended (a session's statistics are
    counted when it ends); asked from another database, so the asking is not counted."""
    name = database.url.rpartition("/")[2]
    admin = Database(postgres.url("postgres"))
    seen = -1
    for _ in range(100):
        sessions = postgres.sql(admin, f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}'")
        count = int(postgres.sql(admin, f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{name}'"))
        if sessions == "0" and count == seen:
            return count
        seen = count
        time.sleep(0.1)
    raise AssertionError(f"the sessions of {name} did not end")


def test_a_runs_pause_is_kept_for_the_instance_that_takes_it_over(journal_at: Path | Database) -> None:
    with open_journal(journal_at) as journal:
        run = journal.start_run("a", "mqtt", 5, 10.0, {})
        assert journal.unfinished_runs()[0].paused is False
        journal.set_paused(run, True)
        assert journal.unfinished_runs()[0].paused is True
        journal.set_paused(run, False)
        assert journal.unfinished_runs()[0].paused is False
        journal.set_paused(run, True)
    with open_journal(journal_at) as journal:
        [record] = journal.runs()
        assert record.paused is True


def test_homeflow_instances_starting_at_once_on_a_new_postgresql_journal_all_open_it(
    postgres: Postgres,
) -> None:
    """A cluster's instances start together: one makes the schema, the others wait and find it made."""
    problems: list[str] = []

    def start(database: Database, ready: threading.Barrier) -> None:
        ready.wait()
        try:
            open_journal(database).close()
        except JournalError as exc:
            problems.append(str(exc))

    for _ in range(3):
        database = postgres.database()
        ready = threading.Barrier(6)
        starting = [threading.Thread(target=start, args=(database, ready)) for _ in range(6)]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        assert problems == []
        versions = postgres.sql(database, "SELECT string_agg(version::text, ',') FROM schema_version")
        assert versions == ",".join(str(n) for n in range(1, pg_journal.SCHEMA_VERSION + 1))
