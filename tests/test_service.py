"""The service as a whole: shutdown by signal, recovery after a crash, and the button mid-routine."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from homeflow.journal import RunStatus, open_journal
from homeflow.planning import prepare_plan
from homeflow.routine.guidance import PAUSED, PHRASES, RESUMING
from homeflow.routine.plan import CueKind
from homeflow.routine.progression import first_level
from homeflow.service import build_rooms, build_speakers, serve
from homeflow.settings import load
from homeflow.triggers.buttons import DUPLICATE_WINDOW_S

from .harness import Message, collecting, stopped
from .home import BEFORE, home, home_settings, safety_heard
from .mosquitto import Broker
from .z2m import SimulatedLight

RESTORED = {"state": "ON", "brightness": 203, "color_temp": 250, "transition": 4}


async def test_sigterm_mid_run_restores_the_lights_and_says_offline(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    config = home_settings(tmp_path, broker, prefix, speech_cache)
    safety_heard(config)  # the run is stopped in its second step, soon after it begins
    light = SimulatedLight(f"{prefix}/z2m", "Living Room Lamp", BEFORE)
    base = f"{prefix}/hf"
    async with light.running(broker), collecting(broker, f"{prefix}-watcher", f"{base}/#") as watch:
        log = tmp_path / "homeflow.log"
        with log.open("wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "homeflow.cli", "-v", "run", "-c", str(config),
                env={**os.environ, "HOMEFLOW_TIME_SCALE": "5"},
                stdout=asyncio.subprocess.DEVNULL, stderr=log_file,
            )  # fmt: skip
        try:
            await watch.wait_for(f"{base}/status", lambda m: m.text == "online")
            await watch.client.publish(
                f"{prefix}/z2m/Massage Button", json.dumps({"action": "single"}), qos=1
            )
            await watch.wait_for(f"{base}/back-massage/state", lambda m: m.json.get("step_index") == 1)
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await watch.wait_for(f"{base}/status", lambda m: m.text == "offline")
    output = log.read_text()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    assert light.commands[0]["brightness"] == 89
    assert light.commands[-1] == RESTORED
    with open_journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        assert run.status is RunStatus.INTERRUPTED
    assert [p["event"] for p in watch.payloads(f"{base}/back-massage/event")] == ["started", "interrupted"]


async def test_a_run_left_open_by_a_crash_is_closed_and_its_lights_restored(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    config = home_settings(tmp_path, broker, prefix, speech_cache)
    with open_journal(tmp_path / "journal.db") as journal:
        crashed = journal.start_run("back-massage", "button:massage", 5, 250.0, {"lamp": BEFORE})
    dimmed = {"state": "ON", "brightness": 89, "color_temp": 370, "color_mode": "color_temp"}
    light = SimulatedLight(f"{prefix}/z2m", "Living Room Lamp", dimmed)
    async with light.running(broker):
        stop = asyncio.Event()
        service = asyncio.create_task(serve(load(config), stop, time_scale=1))
        async with asyncio.timeout(5):
            await light.changed.wait()
        stop.set()
        await stopped(service)
    assert light.commands == [{**RESTORED, "transition": 0.0}]
    with open_journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        assert (run.id, run.status) == (crashed, RunStatus.INTERRUPTED)


async def spoken_cue_times(config: Path) -> list[float]:
    """When the back-massage routine's first run says each sentence, in routine seconds: its plan timed
    by the same rendered speech (the shared cache) as the run itself."""
    settings = load(config)
    room = build_rooms(settings, {}, build_speakers(settings))["back-massage"]
    plan = await prepare_plan(room.routine, first_level(room.routine.reps), room.speakers)
    return [cue.at for cue in plan.cues if cue.kind in (CueKind.SAY, CueKind.COUNT)]


def cues_said(messages: list[Message], topic: str) -> list[str]:
    """What the run said of its own on the say topic `topic`: all but the phrases that answer a command."""
    return [m.json["text"] for m in messages if m.topic == topic and m.json["text"] not in PHRASES]


async def test_the_button_pauses_resumes_skips_and_cancels(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    time_scale = 10
    async with home(tmp_path, broker, prefix, speech_cache, time_scale=time_scale) as h:
        w, state, say = h.watch, h.topic("state"), h.topic("say")
        await h.press("single")
        await w.wait_for(state, lambda m: m.json["state"] == "running")
        h.clock.shift(DUPLICATE_WINDOW_S)  # a new press, not a repeat of the last one
        await h.press("single")
        paused = await w.wait_for(state, lambda m: m.json["state"] == "paused")
        paused_at = w.messages.index(paused)
        # Paused as long as the run, going on, would take to say its next three sentences, counted from
        # the last one it said (so at least that long): 3 s or so, for the cues at 0:10, 0:18 and 0:32.
        said = len(cues_said(w.messages[:paused_at], say))
        assert said > 0, "paused before the first sentence"
        cues = await spoken_cue_times(h.config)
        await asyncio.sleep((cues[said + 2] - cues[said - 1]) / time_scale)
        commands_while_paused = len(h.light.commands)
        await h.press("single")
        resumed = await w.wait_for(state, lambda m: m.json["state"] == "running", since=paused_at)
        while_paused = w.messages[paused_at : w.messages.index(resumed)]
        await h.press("double")
        await w.wait_for(state, lambda m: m.json["step_index"] > resumed.json["step_index"], since=paused_at)
        await h.press("hold")
        await w.wait_for(h.topic("event"), lambda m: m.json["event"] == "cancelled")
    states = [p["state"] for p in w.payloads(state)]
    assert states.index("paused") < len(states) - 1 - states[::-1].index("running")
    assert cues_said(while_paused, say) == []  # only the answers to the button: "Paused…", "Resuming."
    assert {PAUSED, RESUMING} <= {p["text"] for p in w.payloads(say)}
    assert commands_while_paused == 1  # only the dimming; nothing changes while paused
    assert h.light.commands[-1] == RESTORED
    with open_journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        assert run.status is RunStatus.CANCELLED
