"""One run, one truth: the plan shown is the plan played, and a lamp belongs to one run at a time."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from homeflow.journal import RunStatus, open_journal
from homeflow.routine.progression import Feedback

from .conftest import Broker
from .harness import Collector, collecting, serving, write_settings
from .z2m import SimulatedLight

LEVELLING = """\
name: Levelling
ambience: {brightness: 30, transition: 1}
reps: {start: 3, max: 6, step: 3, good_sessions_to_progress: 1}
feedback: {ask: "Did that feel good?", timeout: 5}
steps:
  - title: Circles
    do:
      - count: {say: "{reps} circles.", to: "{reps}", tempo: 1}
  - title: Close
    do:
      - say: Well done.
"""
BEFORE = {"state": "ON", "brightness": 200, "color_temp": 250, "color_mode": "color_temp"}


def echo_player(folder: Path) -> Path:
    path = folder / "player.sh"
    path.write_text(f'#!/bin/sh\necho "$1" >> {folder}/played.log\n')
    path.chmod(0o755)
    return path


async def test_the_plan_shown_is_the_run_played_cue_by_cue_when_the_level_goes_up(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    body = (
        f"speakers: {{room: {{local: {{player: {echo_player(tmp_path)}}}}}}}\n"
        "automations: [{routine: levelling, speakers: [room]}]\n"
    )
    config = write_settings(tmp_path, broker, prefix, body, {"levelling": LEVELLING})
    with open_journal(tmp_path / "journal.db") as journal:  # one good run: the next one goes up to 6
        done = journal.start_run("levelling", "mqtt", 3, 10.0, {})
        journal.finish_run(done, RunStatus.COMPLETED)
        journal.set_feedback(done, Feedback.GOOD)

    command = ("-m", "homeflow.cli", "plan", "levelling", "--json", "-c", str(config))
    planning = await asyncio.create_subprocess_exec(sys.executable, *command, stdout=asyncio.subprocess.PIPE)
    out, _ = await planning.communicate()
    assert planning.returncode == 0
    shown = json.loads(out)
    assert shown["reps"] == 6
    assert shown["cues"][1]["text"].endswith("today we go up to 6 repetitions.")
    assert shown["cues"][-1]["kind"] == "ask"

    base = f"{prefix}/hf"
    async with (
        collecting(broker, f"{prefix}-watch", f"{base}/#") as watch,
        serving(config, watch, base, time_scale=5),
    ):
        await watch.client.publish(f"{base}/levelling/set", "start", qos=1)
        asking = await watch.wait_for(f"{base}/levelling/state", lambda m: m.json["state"] == "asking")
        await watch.client.publish(f"{base}/levelling/set", "start", qos=1)  # "felt good"
        after = watch.messages.index(asking)
        await watch.wait_for(f"{base}/levelling/state", lambda m: m.json["state"] == "idle", since=after)

    with open_journal(tmp_path / "journal.db") as journal:
        run = journal.runs()[0]
        played = journal.cues(run.id)
    assert (run.reps, run.feedback) == (6, Feedback.GOOD)
    assert [(c["kind"], c["step"], c.get("text"), round(c["at"], 3)) for c in shown["cues"]] == [
        (c["kind"], c["step"], c["text"], round(c["planned_at"], 3)) for c in played
    ]


async def start_and_watch(watch: Collector, base: str, routine: str) -> None:
    mark = len(watch.messages)
    await watch.client.publish(f"{base}/{routine}/set", "start", qos=1)
    await watch.wait_for(f"{base}/{routine}/event", since=mark)


async def cancel(watch: Collector, base: str, routine: str, *, running: bool) -> None:
    mark = len(watch.messages)
    await watch.client.publish(f"{base}/{routine}/set", "cancel", qos=1)
    if running:  # over once it is idle again, the lamp given back
        await watch.wait_for(f"{base}/{routine}/state", lambda m: m.json["state"] == "idle", since=mark)


async def test_two_routines_sharing_a_lamp_leave_it_as_it_was_in_any_order(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    slow = (
        "name: {name}\nambience: {{brightness: {level}, transition: 1}}\n"
        "steps: [{{title: Wait, do: [{{wait: {{seconds: 600}}}}]}}]\n"
    )
    body = (
        "lights: {lamp: {zigbee2mqtt: Lamp}}\n"
        "automations: [{routine: first, lights: [lamp]}, {routine: second, lights: [lamp]}]\n"
    )
    routines = {"first": slow.format(name="First", level=30), "second": slow.format(name="Second", level=10)}
    config = write_settings(tmp_path, broker, prefix, body, routines)
    lamp = SimulatedLight(f"{prefix}/z2m", "Lamp", BEFORE)
    base = f"{prefix}/hf"
    orders = (
        ("first", "second", "first", "second"),
        ("first", "second", "second", "first"),
        ("second", "first", "first", "second"),
    )
    async with (
        lamp.running(broker),
        collecting(broker, f"{prefix}-watch", f"{base}/#") as watch,
        serving(config, watch, base, time_scale=1),
    ):
        for start_one, start_two, cancel_one, cancel_two in orders:
            mark = len(watch.messages)
            await start_and_watch(watch, base, start_one)
            await start_and_watch(watch, base, start_two)
            refused = watch.on(f"{base}/{start_two}/event")[-1]
            assert watch.messages.index(refused) >= mark
            assert refused.json["event"] == "refused"
            holder = "First" if start_one == "first" else "Second"
            assert (
                refused.json["reason"]
                == f"The lamp light is in use by {holder}. Start again when it is over."
            )
            await cancel(watch, base, cancel_one, running=cancel_one == start_one)
            await cancel(watch, base, cancel_two, running=cancel_two == start_one)
            assert {k: lamp.state[k] for k in BEFORE} == BEFORE
    assert lamp.commands[-1] == {"state": "ON", "brightness": 200, "color_temp": 250, "transition": 1}


def test_check_warns_when_two_automations_share_a_light(tmp_path: Path, broker: Broker, prefix: str) -> None:
    body = (
        "lights: {lamp: {zigbee2mqtt: Lamp}}\n"
        "automations: [{routine: first, lights: [lamp]}, {routine: second, lights: [lamp]}]\n"
    )
    routines = {name: LEVELLING for name in ("first", "second")}
    config = write_settings(tmp_path, broker, prefix, body, routines)
    done = subprocess.run(
        [sys.executable, "-m", "homeflow.cli", "check", "-c", str(config)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (
        "homeflow: warning: light lamp is shared by routines first, second: "
        "while one of them runs, the others do not start" in done.stderr
    )
