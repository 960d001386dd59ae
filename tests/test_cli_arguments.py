"""Ordinary mistakes on the command line: one clear line and exit 2, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Settings with the bundled back-massage routine (reps 5 up to 10) and a journal of their own."""
    folder = tmp_path_factory.mktemp("cli")
    (folder / "routines").mkdir()
    shutil.copy(REPO / "homeflow/defaults/routines/back-massage.yaml", folder / "routines")
    path = folder / "homeflow.yaml"
    path.write_text("journal: journal.db\ncache: cache\n")
    return path


def homeflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "homeflow.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("reps", ["0", "-3", "abc", "2.5"])
def test_plan_refuses_reps_that_are_not_a_level(config: Path, reps: str) -> None:
    line = one_line_error(homeflow("plan", "back-massage", "-c", str(config), "--reps", reps))
    assert "--reps" in line and repr(reps) in line, line


def test_plan_refuses_reps_above_the_routines_max(config: Path) -> None:
    line = one_line_error(homeflow("plan", "back-massage", "-c", str(config), "--reps", "50"))
    assert line == "homeflow: --reps must be between 1 and 10 (reps.max of back-massage), got 50"


def test_plan_takes_reps_up_to_the_max(config: Path) -> None:
    result = homeflow("plan", "back-massage", "-c", str(config), "--reps", "10")
    assert result.returncode == 0, result.stderr
    assert "10 repetitions (as asked)" in result.stdout


@pytest.mark.parametrize("command", ["plan", "history"])
def test_an_unknown_routine_is_one_line(config: Path, command: str) -> None:
    args = ("plan", "nope") if command == "plan" else ("history", "--routine", "nope")
    line = one_line_error(homeflow(*args, "-c", str(config)))
    assert line.startswith("homeflow: no routine 'nope' in ") and line.endswith("(known: back-massage)")


@pytest.mark.parametrize("limit", ["0", "-1", "many"])
def test_history_refuses_a_limit_below_one(config: Path, limit: str) -> None:
    line = one_line_error(homeflow("history", "-c", str(config), "--limit", limit))
    assert "--limit" in line and repr(limit) in line, line


@pytest.mark.parametrize(
    "args",
    [
        ("-v", "check"),
        ("check", "-v"),
        ("check", "--verbose"),
        ("plan", "back-massage", "-v", "--reps", "5"),
        ("history", "-v"),
    ],
)
def test_verbose_goes_before_or_after_the_command(config: Path, args: tuple[str, ...]) -> None:
    result = homeflow(*args, "-c", str(config))
    assert result.returncode == 0, result.stderr


def test_verbose_after_init_too(tmp_path: Path) -> None:
    result = homeflow("init", str(tmp_path / "new"), "-v")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--nope"),
        ("plan",),
        (),
        ("frobnicate",),
        ("run", "--time-scale", "0"),
        ("run", "--time-scale", "nan"),
        ("run", "--time-scale", "inf"),
        ("run", "--mqtt-port", "70000"),
        ("run", "--http-port", "http"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(config: Path, args: tuple[str, ...]) -> None:
    with_config = ("-c", str(config)) if args and args[0] in ("check", "run") else ()
    one_line_error(homeflow(*args, *with_config))


def test_a_bad_time_scale_in_the_environment_is_one_line_for_run_only(config: Path) -> None:
    env = {"HOMEFLOW_TIME_SCALE": "fast"}
    assert homeflow("check", "-c", str(config), env=env).returncode == 0
    line = one_line_error(homeflow("run", "-c", str(config), env=env))
    assert "HOMEFLOW_TIME_SCALE" in line and "'fast'" in line, line


@pytest.mark.parametrize("args", [("plan", "back-massage", "--json"), ("history",), ("check",)])
def test_a_reader_that_goes_away_is_no_error(config: Path, args: tuple[str, ...]) -> None:
    """`homeflow plan … | head`: the pipe closes before homeflow has written everything."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first write
    try:
        result = subprocess.run(
            [sys.executable, "-m", "homeflow.cli", *args, "-c", str(config)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    finally:
        os.close(write)
    assert result.stderr == ""
    assert result.returncode == 141  # as if SIGPIPE had ended it, like any other filter
