"""A whole back-massage run through a real Mosquitto: button press, lights, announcements, journal."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from homeflow.journal import RunStatus, open_journal
from homeflow.settings import load

from .harness import handled_so_far
from .home import BEFORE, home
from .mosquitto import Broker


async def test_a_press_runs_the_whole_routine(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache) as h:
        await h.press()
        await h.watch.wait_for(h.topic("event"), lambda m: m.json["event"] == "completed", within=30)
        await h.watch.wait_for(
            h.topic("state"), lambda m: m.json["state"] == "idle" and bool(h.light.commands)
        )

    # Lights: dimmed first with a transition, the calm-close change, then restored exactly.
    assert h.light.commands[0] == {"state": "ON", "brightness": 89, "transition": 4, "color_temp": 370}
    assert h.light.commands[1] == {"state": "ON", "brightness": 127, "transition": 10, "color_temp": 370}
    assert h.light.commands[-1] == {"state": "ON", "brightness": 203, "color_temp": 250, "transition": 4}
    assert len(h.light.commands) == 3
    assert {k: h.light.state[k] for k in BEFORE} == BEFORE

    # Announcements: relayed on the say topic and played by the speaker, in plan order.
    said = [p["text"] for p in h.watch.payloads(h.topic("say"))]
    kinds = [p["kind"] for p in h.watch.payloads(h.topic("say"))]
    safety = load(h.config).routines["back-massage"].safety
    assert said[: len(safety)] == list(safety)  # the first run begins with the safety introduction
    assert kinds[: len(safety) + 1] == ["safety"] * len(safety) + ["say"]
    assert said[len(safety)].startswith("Time for your back massage.")
    assert said.count("Five.") == 6  # circles each way and up-and-down, on both sides
    assert any("never" in s.lower() and "spine" in s for s in said)
    played = (tmp_path / "played.log").read_text().split()
    assert len(played) == len(said)

    # State: running with steps in order, then idle again.
    states = h.watch.payloads(h.topic("state"))
    running = [s for s in states if s["state"] == "running"]
    assert [s["step_index"] for s in running] == sorted(s["step_index"] for s in running)
    assert running[0]["step"] == "Get ready"
    assert running[0]["reps"] == 5
    assert running[0]["steps"] == 10
    assert states[-1]["state"] == "idle"
    # Nobody answered the question: it closed unanswered, which `answered` says.
    assert [p["event"] for p in h.watch.payloads(h.topic("event"))] == ["started", "completed", "answered"]

    with open_journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        assert (run.status, run.trigger, run.reps) == (RunStatus.COMPLETED, "button:massage", 5)
        assert run.light_snapshot == {"lamp": BEFORE}
        assert run.cues == len(journal.cues(run.id)) > len(said)


async def test_a_retained_press_starts_nothing(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="homeflow")
    async with home(tmp_path, broker, prefix, speech_cache, pre_press=True) as h:
        await handled_so_far(broker, h.base)  # the retained press too, sent as homeflow subscribed
        assert not [r for r in caplog.records if "started by" in r.getMessage()]
        assert h.watch.payloads(h.topic("event")) == []
        assert h.light.commands == []
        await h.client.publish(f"{prefix}/z2m/Massage Button", b"", retain=True)  # clear it


async def test_cancel_restores_the_lights_and_logs_cancelled(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache) as h:
        await h.client.publish(h.topic("set"), "start", qos=1)
        await h.watch.wait_for(h.topic("state"), lambda m: m.json.get("step_index") == 1)
        await h.client.publish(h.topic("set"), "cancel", qos=1)
        await h.watch.wait_for(h.topic("event"), lambda m: m.json["event"] == "cancelled")
    assert h.light.commands[0]["brightness"] == 89
    assert h.light.commands[-1] == {"state": "ON", "brightness": 203, "color_temp": 250, "transition": 4}
    with open_journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        assert (run.status, run.trigger) == (RunStatus.CANCELLED, "mqtt")
