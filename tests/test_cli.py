"""The `homeflow` command as a person runs it: exit codes and what it prints."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from homeflow.journal import RunStatus, open_journal
from homeflow.routine.progression import Feedback

from .conftest import REPO

EXAMPLE = REPO / "config" / "homeflow.yaml"


def homeflow(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "homeflow.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_check_accepts_the_example() -> None:
    result = homeflow("check", "-c", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout
    assert "2 routines (back-massage: 10 steps, back-massage-de" in result.stdout


def test_check_lists_every_mistake_on_its_own_line(tmp_path: Path) -> None:
    (tmp_path / "routines").mkdir()
    (tmp_path / "homeflow.yaml").write_text(
        textwrap.dedent(
            """\
            mqtt:
              host: 127.0.0.1
              port: eighteen
            ligths: {}
            automations:
              - routine: back-massage
                when: [{button: nowhere}]
            """
        )
    )
    result = homeflow("check", "-c", "homeflow.yaml", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4, lines
    assert lines[0].startswith("homeflow.yaml:3:9: mqtt.port: ")
    assert lines[1].startswith("homeflow.yaml:4:1: ligths: ") and 'did you mean "lights"' in lines[1]
    assert lines[2].startswith("homeflow.yaml:6:14: automations[0].routine: ")
    assert lines[3].startswith("homeflow.yaml:7:21: automations[0].when[0].button: ")
    assert "Traceback" not in result.stderr


def test_a_missing_file_is_one_line() -> None:
    result = homeflow("check", "-c", "/nonexistent/homeflow.yaml")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "/nonexistent/homeflow.yaml" in result.stderr


def test_plan_prints_the_back_massage_timeline() -> None:
    result = homeflow("plan", "back-massage", "-c", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0].startswith(
        "Back massage (back-massage): 5 repetitions (starting level), a first run, 10 steps,"
    )
    assert " in all" in out.splitlines()[0]
    for words in (
        "tennis ball",
        "lacrosse ball",
        "golf ball",
        "baseball",
        "dog ball",
        "Never on the spine itself",
    ):
        assert words in out
    assert out.count("Five.") == 6
    assert "end: lights restored" in out


def test_plan_json_and_levels() -> None:
    result = homeflow("plan", "back-massage", "-c", str(EXAMPLE), "--json", "--reps", "10")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["reps"] == 10
    assert [c["text"] for c in plan["cues"] if c["kind"] == "count"].count("Ten.") == 6
    assert plan["total_s"] == plan["cues"][-1]["at"] > 200


def test_plan_of_an_unknown_routine() -> None:
    result = homeflow("plan", "yoga", "-c", str(EXAMPLE))
    assert result.returncode == 2  # a bad argument, like every other
    assert "no routine 'yoga'" in result.stderr and "back-massage" in result.stderr


def test_history_shows_streak_level_and_runs(tmp_path: Path) -> None:

    (tmp_path / "routines").mkdir()
    (tmp_path / "routines" / "back-massage.yaml").write_text(
        (REPO / "homeflow/defaults/routines/back-massage.yaml").read_text()
    )
    (tmp_path / "homeflow.yaml").write_text("journal: j.db\n")
    with open_journal(tmp_path / "j.db") as journal:
        for _ in range(2):
            run = journal.start_run("back-massage", "button:massage", 5, 250.0, {})
            journal.finish_run(run, RunStatus.COMPLETED)
            journal.set_feedback(run, Feedback.GOOD)
    result = homeflow("history", "-c", "homeflow.yaml", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    summary = data["routines"]["back-massage"]
    assert (summary["streak_days"], summary["completed_today"], summary["reps_level"]) == (1, 2, 10)
    assert [run["feedback"] for run in data["runs"]] == ["good", "good"]
    text = homeflow("history", "-c", "homeflow.yaml", cwd=tmp_path).stdout
    assert text.startswith("back-massage: streak 1 day, last completed 20")
    assert "next run 10 reps (2 good runs in a row: up to 10)" in text


def test_history_and_plan_without_a_journal_yet_create_none(tmp_path: Path) -> None:
    (tmp_path / "routines").mkdir()
    (tmp_path / "routines" / "back-massage.yaml").write_text(
        (REPO / "homeflow/defaults/routines/back-massage.yaml").read_text()
    )
    (tmp_path / "homeflow.yaml").write_text("journal: data/j.db\n")
    history = homeflow("history", "-c", "homeflow.yaml", cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    assert not (tmp_path / "data").exists()
    assert history.stdout.startswith("back-massage: streak 0 days, last completed never, next run 5 reps")
    assert history.stdout.rstrip().endswith(f"no history yet: no journal at {tmp_path / 'data/j.db'}")
    data = json.loads(homeflow("history", "-c", "homeflow.yaml", "--json", cwd=tmp_path).stdout)
    assert data["runs"] == [] and data["routines"]["back-massage"]["completed_today"] == 0
    plan = homeflow("plan", "back-massage", "-c", "homeflow.yaml", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert ": 5 repetitions (starting level), a first run," in plan.stdout.splitlines()[0]
    assert not (tmp_path / "data").exists()  # neither the journal nor its folder


def test_plan_and_history_of_a_routine_with_profiles_are_its_first_profiles(tmp_path: Path) -> None:
    (tmp_path / "routines").mkdir()
    (tmp_path / "routines" / "back-massage.yaml").write_text(
        (REPO / "homeflow/defaults/routines/back-massage.yaml").read_text()
    )
    (tmp_path / "homeflow.yaml").write_text(
        "journal: j.db\nautomations:\n  - {routine: back-massage, profiles: {anna: {}, ben: {}}}\n"
    )
    with open_journal(tmp_path / "j.db") as journal:
        for profile in ("anna", "anna", "ben"):
            run = journal.start_run("back-massage", "web", 5, 250.0, {}, profile=profile)
            journal.finish_run(run, RunStatus.COMPLETED)
            journal.set_feedback(run, Feedback.GOOD if profile == "anna" else Feedback.TOO_MUCH)
    plan = homeflow("plan", "back-massage", "-c", "homeflow.yaml", "--json", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["reps"] == 10  # Anna's two good runs; Ben's "too much" is his
    data = json.loads(homeflow("history", "-c", "homeflow.yaml", "--json", cwd=tmp_path).stdout)
    assert data["routines"]["back-massage"]["completed_today"] == 2
    assert [run["profile"] for run in data["runs"]] == ["ben", "anna", "anna"]
    text = homeflow("history", "-c", "homeflow.yaml", cwd=tmp_path).stdout
    assert text.rstrip().splitlines()[-3].endswith("too_much  (ben)")
