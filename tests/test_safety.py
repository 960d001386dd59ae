"""The safety introduction, through a real broker: said at the first run only, again after the routine's
safety text changes or when a run was cancelled during it; `homeflow plan` shows exactly what the run
will say; and a routine's `safety:` is checked like the rest of it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from homeflow.journal import open_journal
from homeflow.routine.plan import CueKind
from homeflow.settings import load

from .conftest import REPO
from .harness import (
    Collector,
    collecting,
    handled_so_far,
    recording_player,
    serving,
    shipped_routine,
    write_settings,
)
from .mosquitto import Broker
from .test_settings import problems, write

SAFETY = ("Stop at once if anything feels sharp.", "Ask a professional first after an injury.")
CHANGED = ("Stop at once if anything feels sharp or electric.", "Ask a professional first after an injury.")


def careful(safety: tuple[str, ...] = SAFETY) -> str:
    listed = "".join(f"  - {sentence}\n" for sentence in safety)
    return (
        "name: Careful\n"
        "ambience: {brightness: 30, transition: 1}\n"
        f"safety:\n{listed}"
        "steps:\n"
        "  - title: Circles\n"
        "    do:\n"
        "      - count: {say: Begin., to: 3, tempo: 1}\n"
        "      - wait: {seconds: 2, say: Breathe out.}\n"
        "  - title: Close\n"
        "    do:\n"
        "      - wait: {seconds: 30, say: Rest now.}\n"
    )


def settings(folder: Path, broker: Broker, prefix: str, safety: tuple[str, ...] = SAFETY) -> Path:
    body = (
        f"speakers: {{room: {{local: {{player: {recording_player(folder)}}}}}}}\n"
        "buttons: {knob: {zigbee2mqtt: Knob, gestures: {single: toggle, hold: safety}}}\n"
        "automations: [{routine: careful, when: [{button: knob}], speakers: [room]}]\n"
    )
    return write_settings(folder, broker, prefix, body, {"careful": careful(safety)})


async def shown_plan(config: Path, routine: str = "careful") -> dict[str, Any]:
    """What `homeflow plan --json` prints for the next run."""
    command = ("-m", "homeflow.cli", "plan", routine, "--json", "-c", str(config))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    planning = await asyncio.create_subprocess_exec(
        sys.executable, *command, stdout=asyncio.subprocess.PIPE, env=env
    )
    out, _ = await asyncio.wait_for(planning.communicate(), 60)
    assert planning.returncode == 0
    shown: dict[str, Any] = json.loads(out)
    return shown


def spoken_safety(plan: dict[str, Any]) -> list[str]:
    return [c["text"] for c in plan["cues"] if c["kind"] == CueKind.SAFETY]


async def play(watch: Collector, base: str, routine: str = "careful") -> list[dict[str, Any]]:
    """Start a run and wait until it is over; what it said."""
    mark = len(watch.messages)
    await watch.client.publish(f"{base}/{routine}/set", "start", qos=1)
    await watch.wait_for(f"{base}/{routine}/event", lambda m: m.json["event"] == "completed", since=mark)
    await watch.wait_for(f"{base}/{routine}/state", lambda m: m.json["state"] == "idle", since=mark)
    return watch.payloads(f"{base}/{routine}/say", since=mark)


async def test_the_introduction_is_said_at_the_first_run_only_and_plan_shows_it(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    config = settings(tmp_path, broker, prefix)
    before = await shown_plan(config)
    assert spoken_safety(before) == list(SAFETY)
    assert before["safety"] == list(SAFETY) and before["safety_owed"] is True
    # Said before anything else, right after the lights dim.
    assert [c["kind"] for c in before["cues"][:4]] == ["light", "safety", "safety", "step"]

    base = f"{prefix}/hf"
    async with (
        collecting(broker, f"{prefix}-watch", f"{base}/#") as watch,
        serving(config, watch, base, time_scale=20),
    ):
        first = await play(watch, base)
        assert [s["text"] for s in first[:2]] == list(SAFETY)
        assert {s["kind"] for s in first[:2]} == {"safety"}
        assert [s["text"] for s in first[2:4]] == ["Begin.", "One."]
        second = await play(watch, base)
        assert [s["text"] for s in second if s["kind"] == "safety"] == []
        assert second[0]["text"] == "Begin."

    with open_journal(tmp_path / "journal.db") as journal:
        runs = journal.runs()
        played = journal.cues(runs[-1].id)
    # The first run played the plan shown before it, cue by cue.
    assert [(c["kind"], c["step"], c.get("text"), round(c["at"], 3)) for c in before["cues"]] == [
        (c["kind"], c["step"], c["text"], round(c["planned_at"], 3)) for c in played
    ]
    after = await shown_plan(config)
    assert spoken_safety(after) == []
    assert after["safety"] == list(SAFETY) and after["safety_owed"] is False


async def test_a_changed_safety_text_is_said_again(tmp_path: Path, broker: Broker, prefix: str) -> None:
    config = settings(tmp_path, broker, prefix)
    base = f"{prefix}/hf"
    async with (
        collecting(broker, f"{prefix}-watch", f"{base}/#") as watch,
        serving(config, watch, base, time_scale=20),
    ):
        await play(watch, base)
    settings(tmp_path, broker, prefix, CHANGED)  # the routine's safety text changes
    assert spoken_safety(await shown_plan(config)) == list(CHANGED)
    async with (
        collecting(broker, f"{prefix}-watch2", f"{base}/#") as watch,
        serving(config, watch, base, time_scale=20),
    ):
        again = await play(watch, base)
        assert [s["text"] for s in again if s["kind"] == "safety"] == list(CHANGED)
        once_more = await play(watch, base)
        assert [s["text"] for s in once_more if s["kind"] == "safety"] == []


async def test_a_run_cancelled_during_the_introduction_owes_it(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    config = settings(tmp_path, broker, prefix)
    base = f"{prefix}/hf"
    async with (
        collecting(broker, f"{prefix}-watch", f"{base}/#") as watch,
        serving(config, watch, base, time_scale=1),
    ):
        mark = len(watch.messages)
        await watch.client.publish(f"{base}/careful/set", "start", qos=1)
        await watch.wait_for(f"{base}/careful/say", lambda m: m.json["kind"] == "safety", since=mark)
        await watch.client.publish(f"{base}/careful/set", "cancel", qos=1)
        await watch.wait_for(f"{base}/careful/event", lambda m: m.json["event"] == "cancelled", since=mark)
        await watch.wait_for(f"{base}/careful/state", lambda m: m.json["state"] == "idle", since=mark)
    assert spoken_safety(await shown_plan(config)) == list(SAFETY)


async def test_safety_on_demand_is_said_now_and_owes_nothing(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    config = settings(tmp_path, broker, prefix)
    base = f"{prefix}/hf"
    async with (
        collecting(broker, f"{prefix}-watch", f"{base}/#") as watch,
        serving(config, watch, base, time_scale=20),
    ):
        mark = len(watch.messages)
        await watch.client.publish(f"{base}/careful/set", "safety", qos=1)
        said = await watch.wait_for(f"{base}/careful/say", since=mark)
        assert said.json["text"] == " ".join(SAFETY)
        assert (said.json["kind"], said.json["run_id"]) == ("safety", None)
        mark = len(watch.messages)
        await watch.client.publish(f"{prefix}/z2m/Knob", json.dumps({"action": "hold"}), qos=1)
        by_button = await watch.wait_for(f"{base}/careful/say", since=mark)
        assert (by_button.json["text"], by_button.json["kind"]) == (" ".join(SAFETY), "safety")
        assert spoken_safety(await shown_plan(config)) == list(SAFETY)  # a run still says it first

        # While a run is on, the command says nothing more.
        mark = len(watch.messages)
        await watch.client.publish(f"{base}/careful/set", "start", qos=1)
        await watch.wait_for(f"{base}/careful/state", lambda m: m.json["state"] == "running", since=mark)
        await watch.client.publish(f"{base}/careful/set", "safety", qos=1)
        await handled_so_far(broker, base)
        assert [p for p in watch.payloads(f"{base}/careful/say", since=mark) if p["run_id"] is None] == []


def test_the_shipped_routine_keeps_the_seed_and_says_what_is_safe() -> None:
    routine = load(REPO / "config" / "homeflow.yaml").routines["back-massage"]
    safety = " ".join(routine.safety).lower()
    for words in (
        "sharp",
        "shooting",
        "electric",
        "numbness",
        "tingling",
        "weakness",
        "down a leg",
        "dizz",
        "injury",
        "fall",
        "surgery",
        "pregnan",
        "osteoporosis",
        "blood thinners",
        "bladder",
        "bowel",
        "urgent",
    ):
        assert words in safety, words
    text = shipped_routine().lower()
    for words in (
        "5 out of 10",
        "a thumb's width or two",
        "lower ribs",
        "kidney",
        "keep breathing",
        "breathe out",
        "begin with a softer ball, like a tennis ball",
    ):
        assert words in text, words
    # Every ball the seed names stays but the "rocket ball", which nobody knows; its instructions keep
    # their order.
    for ball in ("dog ball", "golf ball", "tennis ball", "lacrosse ball", "baseball"):
        assert ball in text, ball
    seed = (
        "take your ball",
        "beside your spine",  # the mid part of the back, not the spine
        "wall",  # pressed against a wall
        "lean your body weight into the ball",
        "{reps} one way",
        "the other way",
        "up and down",
        "go up to {max_reps} repetitions only when {reps} feel good",
        "never overdo it",
    )
    steps = text[text.index("\nsteps:") :]
    places = [steps.find(words) for words in seed]
    assert -1 not in places, dict(zip(seed, places, strict=True))
    assert places == sorted(places)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder that is also the working directory, so problems show short relative paths."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_bad_safety_is_a_located_problem(here: Path) -> None:
    step = "steps: [{title: T, do: [{say: Hi.}]}]\n"
    write(here, "routines/number.yaml", f"name: N\nsafety: 5\n{step}")
    write(here, "routines/empty.yaml", f"name: E\nsafety: []\n{step}")
    write(here, "routines/mapping.yaml", f"name: M\nsafety:\n  - Stop if it hurts.\n  - {{a: b}}\n{step}")
    write(here, "routines/long.yaml", f"name: L\nsafety:\n  - {'a' * 501}\n{step}")
    write(here, "routines/many.yaml", f"name: Y\nsafety: [{', '.join(['Stop.'] * 21)}]\n{step}")
    write(here, "routines/text.yaml", f"name: T\nsafety: Stop now. {'b' * 501}.\n{step}")
    assert problems(write(here, "homeflow.yaml", "")) == [
        "routines/empty.yaml:2:9: safety: needs at least one sentence",
        "routines/long.yaml:3:5: safety[0]: too long (501 characters); at most 500",
        "routines/many.yaml:2:9: safety: at most 20 sentences, got 21",
        "routines/mapping.yaml:4:5: safety[1]: expected text, got a mapping",
        "routines/number.yaml:2:9: safety: expected a list of sentences or a text, got 5",
        "routines/text.yaml:2:9: safety: a sentence of 502 characters; at most 500",
    ]


def test_safety_as_a_text_is_said_sentence_by_sentence(here: Path) -> None:
    write(
        here,
        "routines/text.yaml",
        "name: T\nsafety: >\n  Stop at once if it hurts.\n  Ask first if you are pregnant!\n"
        "  Is it urgent? Get help.\nsteps: [{title: T, do: [{say: Hi.}]}]\n",
    )
    routine = load(write(here, "homeflow.yaml", "")).routines["text"]
    assert routine.safety == (
        "Stop at once if it hurts.",
        "Ask first if you are pregnant!",
        "Is it urgent?",
        "Get help.",
    )
