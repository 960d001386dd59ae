"""Answers to the end-of-run question from every surface, through a real broker: MQTT, a button whose
gestures answer, and Home Assistant's discovery button; a late answer counts once; "it hurt" goes back to
the start, gently, with advice."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from homeflow.homeassistant.discovery import node_id
from homeflow.journal import open_journal
from homeflow.routine.guidance import SHOWN_ADVICE, answer_hint
from homeflow.routine.model import Reps
from homeflow.routine.progression import Feedback, advance, first_level, next_level
from homeflow.settings import load
from homeflow.triggers.buttons import DUPLICATE_WINDOW_S

from .conftest import REPO
from .harness import handled_so_far, retained
from .home import Home, home
from .mosquitto import Broker
from .test_guidance import PATIENT, run_once
from .test_home_assistant import render

# One good answer moves up a step, so each answer shows in the next level; runs may follow each other.
EDITS = {
    **PATIENT,
    "max_per_day: 2 ": "max_per_day: 9 ",
    "min_gap_minutes: 120": "min_gap_minutes: 0",
    "good_sessions_to_progress: 2": "good_sessions_to_progress: 1",
}
QUESTION = "How did your back feel?"
# An IKEA-style remote: the right arrow starts, on and off answer, the left arrow says it hurt.
IKEA = {"arrow_right_click": "start", "on": "good", "off": "too_much", "arrow_left_click": "hurt"}
# The stop rules of the back massage's safety text, repeated after "it hurt".
STOPS = (
    "Stop at once if you feel sharp, shooting or electric pain, numbness, tingling, weakness, or pain "
    "going down a leg, or if you feel dizzy. If back pain comes with changes in how your bladder or bowel "
    "work, or with numbness between your legs, get urgent medical care. Do not massage."
)
HURT_REPLY = (
    "I am sorry it hurt. Next time we go back to 3 repetitions, gently. "
    f"Rest, and if the pain persists, see a doctor or a physiotherapist. {STOPS}"
)
REST = "It hurt last time. Give your back 24 more hours of rest before the next back massage."
GENTLE = (
    "Last time it hurt, so today we go gently, with 3 repetitions. Take a softer ball today, like a "
    "tennis ball, and lean into it only lightly. Stop at once if anything hurts."
)


async def until_asking(h: Home, start: Callable[[], Awaitable[None]]) -> int:
    """Start a run with `start()` and wait for its question; the index its messages begin at."""
    first = len(h.watch.messages)
    await start()
    await h.watch.wait_for(h.topic("state"), lambda m: m.json["state"] == "asking", since=first, within=30)
    return first


async def until_idle(h: Home, first: int) -> dict[str, Any]:
    """Wait for the run that began at `first` to end; the last figures it published."""
    await h.watch.wait_for(h.topic("state"), lambda m: m.json["state"] == "idle", since=first + 1)
    h.clock.shift(DUPLICATE_WINDOW_S)  # the next press is a new press
    return dict(h.watch.payloads(h.topic("stats"), since=first)[-1])


def said(h: Home, since: int) -> list[str]:
    return [p["text"] for p in h.watch.payloads(h.topic("say"), since=since)]


def available(config: dict[str, Any], latest: dict[str, str]) -> bool:
    """Whether Home Assistant shows the entity available, given the latest payload on each topic."""
    verdicts = []
    for source in config["availability"]:
        payload = latest[source["topic"]]
        value = render(source["value_template"], payload) if "value_template" in source else payload
        on, off = source.get("payload_available", "online"), source.get("payload_not_available", "offline")
        assert value in (on, off)
        verdicts.append(value == on)
    assert config["availability_mode"] == "all"
    return all(verdicts)


async def test_mqtt_a_mapped_button_and_home_assistant_each_answer_and_change_the_next_level(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache, edits=EDITS, gestures=IKEA) as h:

        async def mqtt(word: str) -> None:
            await h.client.publish(h.topic("set"), word, qos=1)

        # The remote starts the run, so the question names its answers; its `on` says "felt good".
        first = await until_asking(h, lambda: h.press("arrow_right_click"))
        hint = (
            "With the massage button, press on if it felt good, off if it was too much, "
            "or arrow left click if it hurt."
        )
        assert said(h, first)[-1] == f"{QUESTION} {hint}"
        await h.press("on")
        assert (await until_idle(h, first))["reps_level"] == 10

        # Over MQTT: "too much". A run started over MQTT names the room's button's answers too.
        first = await until_asking(h, lambda: mqtt("start"))
        assert said(h, first)[-1] == f"{QUESTION} {hint}"
        await mqtt("too_much")
        assert (await until_idle(h, first))["reps_level"] == 5

        # Home Assistant's "Felt good" button, pressed as Home Assistant does, while it is available.
        node = node_id(h.base)
        configs = await retained(broker, f"{prefix}-ha", f"{prefix}/ha/button/{node}/#")
        good = json.loads(configs[f"{prefix}/ha/button/{node}/back-massage_good/config"])
        status = f"{h.base}/status"
        first = await until_asking(h, lambda: mqtt("start"))
        latest = {status: "online", h.topic("state"): h.watch.on(h.topic("state"), since=first)[-1].text}
        assert available(good, latest)
        await h.client.publish(good["command_topic"], good["payload_press"], qos=1)
        await mqtt("hurt")  # a second answer to the same question: the first one counts
        assert (await until_idle(h, first))["reps_level"] == 10
        assert not available(good, {**latest, h.topic("state"): h.watch.on(h.topic("state"))[-1].text})
        assert not available(good, {**latest, status: "offline"})

        # The run is answered: a later answer from any surface changes nothing.
        mark = len(h.watch.messages)
        await mqtt("too_much")
        await h.press("arrow_left_click")
        await h.client.publish(good["command_topic"], good["payload_press"], qos=1)
        await handled_so_far(broker, h.base)
        assert h.watch.on(h.topic("stats"), since=mark) == []
        assert h.watch.on(h.topic("say"), since=mark) == []
    with open_journal(tmp_path / "journal.db") as journal:
        assert [(r.reps, r.feedback) for r in reversed(journal.runs())] == [
            (5, Feedback.GOOD),
            (10, Feedback.TOO_MUCH),
            (5, Feedback.GOOD),
        ]


async def test_a_late_answer_counts_once(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache, edits=EDITS) as h:
        first = await until_asking(h, lambda: h.press("single"))
        assert (await until_idle(h, first))["reps_level"] == 5  # nobody answered in time

        mark = len(h.watch.messages)
        await h.client.publish(h.topic("set"), "good", qos=1)
        stats = await h.watch.wait_for(h.topic("stats"), since=mark)
        assert stats.json["reps_level"] == 10
        reply = await h.watch.wait_for(h.topic("say"), since=mark)
        assert reply.json["text"] == "Thank you. Next time we go up to 10 repetitions."

        mark = len(h.watch.messages)
        await h.client.publish(h.topic("set"), "hurt", qos=1)
        await h.press("double")  # the button's own "too much" is no answer once the question is closed
        await handled_so_far(broker, h.base)
        assert h.watch.on(h.topic("stats"), since=mark) == []
        assert h.watch.on(h.topic("say"), since=mark) == []

        # The level the late answer gave is the one the next run plays.
        first = await until_asking(h, lambda: h.press("single"))
        assert h.watch.on(h.topic("state"), since=first)[-1].json["reps"] == 10
    with open_journal(tmp_path / "journal.db") as journal:
        assert [r.feedback for r in reversed(journal.runs())] == [Feedback.GOOD, None]


async def test_it_hurt_goes_back_to_the_start_gently_with_advice(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache, edits=EDITS) as h:
        await run_once(h, "single")  # felt good: the next run has 10
        first = await until_asking(h, lambda: h.press("single"))
        await h.client.publish(h.topic("set"), "hurt", qos=1)
        stats = await until_idle(h, first)
        second = said(h, first)
        assert "Ten." in second
        assert second[-1] == HURT_REPLY
        assert (stats["reps_level"], stats["reps_reason"]) == (
            3,
            "the last run hurt: gently, at 3 instead of 5",
        )
        assert stats["advice"] == f"{SHOWN_ADVICE} {STOPS}"

        # The plan of the next run, as `homeflow plan` prints it: fewer repetitions, gently.
        command = ("plan", "back-massage", "-c", str(h.config), "--json")
        plan = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "homeflow.cli",
            *command,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        out, _ = await asyncio.wait_for(plan.communicate(), 60)
        assert plan.returncode == 0
        shown = json.loads(out)
        assert (shown["reps"], shown["cues"][1]["text"]) == (3, GENTLE)

        # A day of rest first: a start is refused with the reason, said and on the event topic.
        mark = len(h.watch.messages)
        await h.press("single")
        refused = await h.watch.wait_for(h.topic("event"), lambda m: m.json["event"] == "refused", since=mark)
        assert refused.json["reason"] == REST
        assert (await h.watch.wait_for(h.topic("say"), since=mark)).json["text"] == REST
        h.clock.shift(DUPLICATE_WINDOW_S)
        h.clock.pass_hours(24)

        third = await run_once(h, "single")
        assert third[0] == GENTLE
        assert third[1].startswith("Time for your back massage. Take your ball.")  # the routine's own text
        assert third.count("Three.") == 6 and "Four." not in third
        assert "Lean back only lightly today, about 3 out of 10." in third
        assert not [text for text in third if "deeper" in text or "firmer" in text]
        planned = [c["text"] for c in shown["cues"] if c["kind"] in ("say", "safety", "count")]
        assert third[: len(planned)] == planned  # the run says what the plan showed
        last = h.watch.payloads(h.topic("stats"))[-1]
        assert (last["reps_level"], last["advice"]) == (5, None)  # felt good again: the start, no advice


def test_it_hurt_in_progression_and_the_button_hint() -> None:
    reps = Reps(5, 10, 5, 2)
    hurt = advance(reps, advance(reps, first_level(reps), Feedback.GOOD), Feedback.HURT)
    assert (hurt.reps, hurt.gentle, hurt.good_in_row) == (3, True, 0)
    assert advance(reps, hurt, None) == hurt  # no answer: still gentle
    assert not advance(reps, hurt, Feedback.GOOD).gentle
    assert next_level(reps, [Feedback.GOOD, Feedback.GOOD, Feedback.HURT]).reps == 3
    assert answer_hint("massage", {}) is None
    hint = answer_hint("remote", {"on_press": Feedback.GOOD})
    assert hint == "With the remote button, press on press if it felt good."
    both = {"on": Feedback.GOOD, "up": Feedback.GOOD, "off": Feedback.HURT}
    assert answer_hint("b", both) == "With the b button, press on or up if it felt good, or off if it hurt."


def test_gestures_may_answer_and_a_routine_names_its_gentler_option(tmp_path: Path) -> None:
    (tmp_path / "routines").mkdir()
    (tmp_path / "routines" / "r.yaml").write_text(
        "name: R\n"
        "feedback: {gentle: 'Go at half pressure, {reps} times.'}\n"
        "steps: [{title: A, do: [say: Hi.]}]\n"
    )
    (tmp_path / "homeflow.yaml").write_text(
        "buttons:\n"
        "  remote: {zigbee2mqtt: Remote, gestures: {on: good, off: too_much, arrow_left_click: hurt}}\n"
    )
    settings = load(tmp_path / "homeflow.yaml")
    assert settings.buttons["remote"].gestures == {
        "on": "good",
        "off": "too_much",
        "arrow_left_click": "hurt",
    }
    feedback = settings.routines["r"].feedback
    assert feedback is not None and feedback.gentle == "Go at half pressure, {reps} times."
