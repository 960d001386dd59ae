"""The journal on a real SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from homeflow.journal import RunStatus, open_journal, streak
from homeflow.routine.plan import Cue, CueKind
from homeflow.routine.progression import Feedback


def test_a_run_is_kept_with_its_cues_and_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "journal.db"
    with open_journal(path) as journal:
        run = journal.start_run("back-massage", "button:massage", 5, 412.5, {"lamp": {"state": "ON"}})
        journal.record_cue(run, 0, Cue(0.0, CueKind.SAY, 0, text="Hello."), 0.001)
        journal.record_cue(run, 1, Cue(3.0, CueKind.COUNT, 0, text="One."), 0.002)
        journal.finish_run(run, RunStatus.COMPLETED)
        journal.finish_run(run, RunStatus.INTERRUPTED)  # a completion is logged once
    with open_journal(path) as journal:
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
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_unfinished_runs_and_feedback_history(tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.db") as journal:
        first = journal.start_run("a", "mqtt", 5, 10.0, {})
        journal.finish_run(first, RunStatus.COMPLETED)
        journal.set_feedback(first, Feedback.GOOD)
        cancelled = journal.start_run("a", "mqtt", 5, 10.0, {})
        journal.finish_run(cancelled, RunStatus.CANCELLED)
        second = journal.start_run("a", "mqtt", 5, 10.0, {})
        journal.finish_run(second, RunStatus.COMPLETED)
        open_run = journal.start_run("a", "mqtt", 5, 10.0, {"lamp": {"brightness": 3}})
        assert [r.id for r in journal.unfinished_runs()] == [open_run]
        assert journal.feedback_history("a") == [Feedback.GOOD, None]
        assert [r.id for r in journal.runs(routine="a", limit=2)] == [open_run, second]


def test_streak_counts_consecutive_days_back_from_today_or_yesterday() -> None:

    today = date(2026, 3, 30)
    assert streak([date(2026, 3, 30), date(2026, 3, 29), date(2026, 3, 28), date(2026, 3, 26)], today) == 3
    assert streak([date(2026, 3, 29), date(2026, 3, 28)], today) == 2  # today is not over yet
    assert streak([date(2026, 3, 28)], today) == 0
    assert streak([], today) == 0
