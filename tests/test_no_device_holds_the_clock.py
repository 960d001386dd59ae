"""A dead speaker costs its own sentences, never another speaker's timing or the lamp's restore.

Real time (time scale 1), a real broker, a Zigbee2MQTT lamp, a healthy local speaker whose player notes
when each sentence starts, and beside it a speaker that never answers: a stalled Home Assistant, or a
local player that hangs.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

from homeflow.journal import RunStatus, open_journal

from .conftest import Broker
from .fake_home_assistant import TOKEN, FakeHomeAssistant
from .harness import collecting, serving, write_settings
from .z2m import SimulatedLight

QUICK = """\
name: Quick
ambience: {brightness: 30, transition: 1}
steps:
  - title: Breathe
    do:
      - say: Breathe in.
      - say: Breathe out.
      - count: {to: 3, tempo: 0.5}
  - title: Close
    do:
      - say: Well done.
"""
BEFORE = {"state": "ON", "brightness": 200, "color_temp": 250, "color_mode": "color_temp"}
ON_TIME_S = 0.02  # a healthy speaker starts its player this close to plan (the median sentence)
# ... and every sentence this close: starting a player process can take longer on a loaded machine,
# while a speaker held by the stuck one would be seconds late.
EVERY_ON_TIME_S = 0.25
RUN_END_S = 0.5  # the run's end (and the lamp's restore) this close to the plan


def player(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755)
    return path


async def run_beside(
    tmp_path: Path, broker: Broker, prefix: str, stuck: str, home_assistant: dict[str, Any] | None = None
) -> None:
    """Run QUICK once with the healthy speaker `fine` and the speaker settings `stuck`."""
    fine = player(tmp_path, "fine.sh", f"echo $EPOCHREALTIME >> {tmp_path}/fine.log")
    body = (
        f"lights: {{lamp: {{zigbee2mqtt: Lamp}}}}\n"
        f"speakers:\n  fine: {{local: {{player: {fine}}}}}\n  stuck: {stuck}\n"
        "automations: [{routine: quick, lights: [lamp], speakers: [fine, stuck]}]\n"
    )
    config = write_settings(tmp_path, broker, prefix, body, {"quick": QUICK}, home_assistant=home_assistant)
    lamp = SimulatedLight(f"{prefix}/z2m", "Lamp", BEFORE)
    base = f"{prefix}/hf"
    async with (
        lamp.running(broker),
        collecting(broker, f"{prefix}-watch", f"{base}/#") as watch,
        serving(config, watch, base, time_scale=1),
    ):
        await watch.client.publish(f"{base}/quick/set", "start", qos=1)
        end = await watch.wait_for(f"{base}/quick/event", lambda m: m.json["event"] == "completed")
        await watch.wait_for(
            f"{base}/quick/state", lambda m: m.json["state"] == "idle", since=watch.messages.index(end)
        )

    with open_journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        cues = journal.cues(run.id)
        missed = journal.speaker_failures(run.id)
    assert run.status is RunStatus.COMPLETED
    # Where the timeline put cue 0 of the plan on the wall clock (after the speech was prepared).
    first = cues[1]
    base_wall = _wall(first["at"]) - first["late_s"] - first["planned_at"]
    spoken = [c for c in cues if c["kind"] in ("say", "count")]
    started = [float(line) for line in (tmp_path / "fine.log").read_text().split()]
    assert len(started) == len(spoken)  # the healthy speaker said every sentence
    deviations = [at - (base_wall + c["planned_at"]) for at, c in zip(started, spoken, strict=True)]
    assert all(0 <= d < EVERY_ON_TIME_S for d in deviations), deviations
    assert statistics.median(deviations) < ON_TIME_S, deviations

    [end_cue] = [c for c in cues if c["kind"] == "end"]
    assert end_cue["late_s"] < RUN_END_S
    restored_at = lamp.times[-1]
    assert lamp.commands[-1] == {"state": "ON", "brightness": 200, "color_temp": 250, "transition": 1}
    assert restored_at - (base_wall + end_cue["planned_at"]) < RUN_END_S

    # Every sentence the stuck speaker did not say is in the journal.
    assert sorted(f["index"] for f in missed if f["speaker"] == "stuck") == [c["index"] for c in spoken]
    assert not [f for f in missed if f["speaker"] == "fine"]


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def _wall(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def test_a_stalled_home_assistant_speaker_holds_no_other_cue(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    ha = FakeHomeAssistant(lights={}, players={"media_player.kitchen": {"state": "idle"}}, stall=True)
    async with ha.running():
        stuck = "{home_assistant: {media_player: media_player.kitchen, tts: tts.piper}}"
        await run_beside(tmp_path, broker, prefix, stuck, {"url": ha.url, "token": TOKEN})


async def test_a_local_player_that_hangs_holds_no_other_cue_and_is_killed(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    hung = player(tmp_path, "hung.sh", f"echo $$ >> {tmp_path}/hung.pids\nexec sleep 600")
    await run_beside(tmp_path, broker, prefix, f"{{local: {{player: {hung}}}}}")
    pids = [int(pid) for pid in (tmp_path / "hung.pids").read_text().split()]
    assert pids  # it was asked, and hung
    assert not alive(pids)  # and each was killed
