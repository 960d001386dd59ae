"""homeflow killed outright: the next start gives the lights back, and the journal survives kill -9."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

from homeflow.journal import RunStatus, open_journal

from .conftest import REPO
from .faults import FAULTY_ROUTINE, WAIT_S, JournalView, wait_until
from .harness import collecting, write_settings
from .home import BEFORE
from .mosquitto import Broker
from .z2m import SimulatedLight

KILLS = 40
CUES_PER_RUN = 20
# A writer as the service is one: a run opened with its snapshot, its cues one transaction each, closed.
WRITER = f"""
import sys
from pathlib import Path
from homeflow.journal import Journal, RunStatus, open_journal
from homeflow.routine.plan import Cue, CueKind

journal = open_journal(Path(sys.argv[1]))
cue = Cue(1.5, CueKind.SAY, 0, "Breathe in.")
while True:
    run = journal.start_run("loop", "test", 5, 60.0, {{"lamp": {{"state": "ON", "brightness": 203}}}})
    for index in range({CUES_PER_RUN}):
        journal.record_cue(run, index, cue, 0.001)
    journal.finish_run(run, RunStatus.COMPLETED)
    print(run, flush=True)
"""


async def homeflow(config: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as log_file:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "homeflow.cli", "run", "-c", str(config),
            env={**os.environ, "HOMEFLOW_TIME_SCALE": "10"},
            stdout=asyncio.subprocess.DEVNULL, stderr=log_file,
        )  # fmt: skip


async def test_sigkill_mid_run_then_a_restart_restores_the_lights_within_2_s(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    body = "lights: {lamp: {zigbee2mqtt: Lamp}}\nautomations: [{routine: faulty, lights: [lamp]}]\n"
    config = write_settings(tmp_path, broker, prefix, body, {"faulty": FAULTY_ROUTINE})
    journal = JournalView(tmp_path / "journal.db")
    log = tmp_path / "homeflow.log"
    light = SimulatedLight(f"{prefix}/z2m", "Lamp", BEFORE)
    async with light.running(broker), collecting(broker, f"{prefix}-watch", f"{prefix}/hf/#") as watch:
        first = await homeflow(config, log)
        try:
            await watch.wait_for(f"{prefix}/hf/status", lambda m: m.text == "online")
            await watch.client.publish(f"{prefix}/hf/faulty/set", "start", qos=1)
            await wait_until(lambda: len(light.commands) == 1, "the lamp dimmed")
            first.kill()
        finally:
            if first.returncode is None:
                first.kill()
            await first.wait()
        assert light.state["brightness"] == 89
        assert journal.query("SELECT status FROM runs") == [("running",)]

        started = time.monotonic()
        second = await homeflow(config, log)
        try:
            await wait_until(lambda: len(light.commands) == 2, "the lamp restored after the restart")
            took = time.monotonic() - started
            await journal.wait_for("SELECT 1 FROM runs WHERE status = 'interrupted'")
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), WAIT_S)
        finally:
            if second.returncode is None:
                second.kill()
                await second.wait()
    output = log.read_text()
    assert light.commands[1] == {"state": "ON", "brightness": 203, "color_temp": 250, "transition": 0.0}
    assert {k: light.state[k] for k in BEFORE} == BEFORE
    assert took < 2.0, f"lights restored {took:.2f} s after the start"
    assert "faulty: run 1 was interrupted at" in output and "1 light(s) restored" in output
    assert "Traceback" not in output
    assert second.returncode == 0, output


async def test_the_journal_survives_kill_9_during_writes(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    confirmed: set[int] = set()
    rng = random.Random(8)
    for _ in range(KILLS):
        writer = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, str(path),
            cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert writer.stdout is not None and writer.stderr is not None
        try:
            # A few runs confirmed, then a kill somewhere in the middle of the next one's writes.
            for _ in range(rng.randint(1, 3)):
                line = await asyncio.wait_for(writer.stdout.readline(), WAIT_S)
                assert line, (await writer.stderr.read()).decode()
                confirmed.add(int(line))
            await asyncio.sleep(rng.uniform(0, 0.004))
        finally:
            writer.send_signal(signal.SIGKILL)
            await writer.wait()

        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            completed = {run for (run,) in db.execute("SELECT id FROM runs WHERE status = 'completed'")}
            cues = dict(db.execute("SELECT run_id, count(*) FROM cues GROUP BY run_id").fetchall())
        finally:
            db.close()
        assert confirmed <= completed, f"completed runs lost: {sorted(confirmed - completed)}"
        assert all(cues[run] == CUES_PER_RUN for run in completed)

    # What a crash leaves open is what the next start closes as interrupted.
    with open_journal(path) as journal:
        unfinished = journal.unfinished_runs()
        for record in unfinished:
            journal.finish_run(record.id, RunStatus.INTERRUPTED)
        assert journal.unfinished_runs() == []
        assert len(journal.runs(status=RunStatus.COMPLETED, limit=10_000)) >= len(confirmed) >= KILLS
    assert 0 < len(unfinished) <= KILLS  # the kills did land in the middle of runs
