"""homeflow's CPU while presses arrive, with a fresh journal and with 100,000 past runs: a real
`homeflow run` and presses as bench/latency.py makes them (each run cancelled from a dashboard, so each
press is followed by an end of a run and its figures). Part of `python -m bench.history`."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import latency
from bench.common import mosquitto, percentile
from homeflow.journal import open_journal

PRESSES = 100
RUNS_A_DAY = 41


def seed(folder: Path, runs: int) -> None:
    """`runs` completed, answered runs of the bench routine, RUNS_A_DAY a day, up to now."""
    path = folder / "journal.db"
    with open_journal(path):
        pass  # the schema
    now = datetime.now(UTC)
    starts = [now - timedelta(days=n // RUNS_A_DAY, minutes=10 * (n % RUNS_A_DAY) + 60) for n in range(runs)]
    rows = [("bench", s.isoformat(), (s + timedelta(minutes=4)).isoformat()) for s in reversed(starts)]
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO runs (routine, trigger, started_at, ended_at, status, reps, planned_s, feedback)"
            " VALUES (?, 'bench', ?, ?, 'completed', 5, 240.0, 'good')",
            rows,
        )


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def homeflow_pid(folder: Path) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_text()
            except OSError:
                continue
            if "homeflow.cli" in command and str(folder) in command:
                return int(entry.name)
    raise RuntimeError(f"no homeflow running in {folder}")


async def presses(runs: int) -> dict[str, Any]:
    with mosquitto() as port, tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        seed(folder, runs)
        async with latency.programs(port, folder):
            pid = homeflow_pid(folder)
            await latency.measure(port, 10)  # warm-up
            before = cpu_s(pid)
            seconds = (await latency.measure(port, PRESSES))["homeflow"]
            used = cpu_s(pid) - before
    return {
        "runs": runs,
        "cpu_ms_per_press": round(used / PRESSES * 1000, 2),
        "press_p50_ms": round(percentile(seconds, 50) * 1000, 2),
        "press_p99_ms": round(percentile(seconds, 99) * 1000, 2),
    }
