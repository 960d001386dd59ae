"""The service as a whole: shutdown by signal, recovery after a crash, and the button mid-routine."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiomqtt

from homeflow.journal import Journal, RunStatus
from homeflow.service import serve
from homeflow.settings import load

from .conftest import Broker
from .test_end_to_end import BEFORE, Watcher, home, write_config
from .z2m import SimulatedLight

RESTORED = {"state": "ON", "brightness": 203, "color_temp": 250, "transition": 4}


async def test_sigterm_mid_run_restores_the_lights_and_says_offline(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    config = write_config(tmp_path, broker, prefix, speech_cache)
    light = SimulatedLight(f"{prefix}/z2m", "Living Room Lamp", BEFORE)
    async with (
        light.running(broker),
        aiomqtt.Client(broker.host, broker.port, identifier=f"{prefix}-watcher") as client,
    ):
        await client.subscribe(f"{prefix}/hf/#", qos=1)
        watcher = Watcher(client)
        collector = asyncio.create_task(watcher.collect())
        log = tmp_path / "homeflow.log"
        with log.open("wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "homeflow.cli", "-v", "run", "-c", str(config),
                env={**os.environ, "HOMEFLOW_TIME_SCALE": "5"},
                stdout=asyncio.subprocess.DEVNULL, stderr=log_file,
            )  # fmt: skip
        try:
            await watcher.wait_for("/hf/status", lambda p: p == "online")
            await client.publish(f"{prefix}/z2m/Massage Button", json.dumps({"action": "single"}), qos=1)
            await watcher.wait_for("/back-massage/state", lambda p: p.get("step_index") == 1)
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await watcher.wait_for("/hf/status", lambda p: p == "offline")
        collector.cancel()
    output = log.read_text()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    assert light.commands[0]["brightness"] == 89
    assert light.commands[-1] == RESTORED
    with Journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        assert run.status is RunStatus.INTERRUPTED
    assert [p["event"] for p in watcher.payloads("/back-massage/event")] == ["started", "interrupted"]


async def test_a_run_left_open_by_a_crash_is_closed_and_its_lights_restored(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    config = write_config(tmp_path, broker, prefix, speech_cache)
    with Journal(tmp_path / "journal.db") as journal:
        crashed = journal.start_run("back-massage", "button:massage", 5, 250.0, {"lamp": BEFORE})
    dimmed = {"state": "ON", "brightness": 89, "color_temp": 370, "color_mode": "color_temp"}
    light = SimulatedLight(f"{prefix}/z2m", "Living Room Lamp", dimmed)
    async with light.running(broker):
        stop = asyncio.Event()
        service = asyncio.create_task(serve(load(config), stop, time_scale=1))
        async with asyncio.timeout(5):
            await light.changed.wait()
        stop.set()
        await asyncio.wait_for(service, 10)
    assert light.commands == [{**RESTORED, "transition": 0.0}]
    with Journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        assert (run.id, run.status) == (crashed, RunStatus.INTERRUPTED)


async def test_the_button_pauses_resumes_skips_and_cancels(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache, time_scale=10) as h:
        w = h.watcher
        await h.press("single")
        await w.wait_for("/back-massage/state", lambda p: p["state"] == "running")
        await asyncio.sleep(0.35)  # a new press, not a repeat of the last one
        await h.press("single")
        await w.wait_for("/back-massage/state", lambda p: p["state"] == "paused")
        paused_at = len(w.messages)
        await asyncio.sleep(0.5)
        commands_while_paused = len(h.light.commands)
        await h.press("single")
        resumed = await w.wait_for("/back-massage/state", lambda p: p["state"] == "running", since=paused_at)
        await h.press("double")
        await w.wait_for(
            "/back-massage/state", lambda p: p["step_index"] > resumed["step_index"], since=paused_at
        )
        await h.press("hold")
        await w.wait_for("/back-massage/event", lambda p: p["event"] == "cancelled")
    states = [p["state"] for p in w.payloads("/back-massage/state")]
    assert states.index("paused") < len(states) - 1 - states[::-1].index("running")
    assert commands_while_paused == 1  # only the dimming; nothing changes while paused
    assert h.light.commands[-1] == RESTORED
    with Journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        assert run.status is RunStatus.CANCELLED
