"""The outcome of the end-of-run question is published: an answer (in time or late) or a question closed
unanswered sends the `answered` event with the next level, after figures that carry that level, and
Home Assistant's event entity and device triggers know it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from homeflow.homeassistant.discovery import node_id

from .harness import Message, retained
from .home import Home, home
from .mosquitto import Broker
from .test_answers import EDITS, until_asking, until_idle
from .test_home_assistant import render
from .test_profiles import people


async def outcome(h: Home, since: int) -> tuple[Message, list[dict[str, Any]]]:
    """The `answered` event after `since`, and the figures published between `since` and it."""
    answered = await h.watch.wait_for(h.topic("event"), lambda m: m.json["event"] == "answered", since=since)
    before = h.watch.messages[since : h.watch.messages.index(answered)]
    return answered, [m.json for m in before if m.topic == h.topic("stats")]


async def answer(h: Home, word: str) -> int:
    """Answer over MQTT; the index of the answer among the messages (as the broker passed it on)."""
    mark = len(h.watch.messages)
    await h.client.publish(h.topic("set"), word, qos=1)
    sent = await h.watch.wait_for(h.topic("set"), since=mark)
    return h.watch.messages.index(sent)


async def test_an_answer_publishes_the_next_level_and_figures_that_carry_it(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache, edits=EDITS) as h:
        first = await until_asking(h, lambda: h.press("single"))
        run_id = h.watch.on(h.topic("state"), since=first)[-1].json["run_id"]
        answered, stats = await outcome(h, await answer(h, "good"))
        assert answered.json | {"at": None} == {
            "event": "answered",
            "run_id": run_id,
            "trigger": "button:massage",
            "feedback": "good",
            "reps_level": 10,
            "reps_reason": stats[-1]["reps_reason"],
            "at": None,
        }
        # Nothing stale after the answer: every figure published since carries the new level.
        assert stats and all(s["reps_level"] == 10 for s in stats)
        assert (await until_idle(h, first))["reps_level"] == 10
        assert [p["event"] for p in h.watch.payloads(h.topic("event"), since=first)].count("answered") == 1


async def test_a_question_left_unanswered_and_a_late_answer_are_published(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache, edits=EDITS) as h:
        first = await until_asking(h, lambda: h.press("single"))
        run_id = h.watch.on(h.topic("state"), since=first)[-1].json["run_id"]
        unanswered, stats = await outcome(h, first)  # nobody answers in time
        assert (unanswered.json["feedback"], unanswered.json["run_id"]) == (None, run_id)
        assert unanswered.json["reps_level"] == stats[-1]["reps_level"] == 5
        await until_idle(h, first)

        late, stats = await outcome(h, await answer(h, "good"))
        assert (late.json["feedback"], late.json["run_id"], late.json["trigger"]) == (
            "good",
            run_id,
            "button:massage",
        )
        assert late.json["reps_level"] == 10 and stats and all(s["reps_level"] == 10 for s in stats)
        assert late.json["reps_reason"] == stats[-1]["reps_reason"]

        # Home Assistant: the routine's event entity fires `answered` with the level; a device trigger.
        node = node_id(h.base)
        configs = await retained(broker, f"{prefix}-ha", f"{prefix}/ha/#")
        entity = json.loads(configs[f"{prefix}/ha/event/{node}/back-massage_run/config"])
        assert "answered" in entity["event_types"]
        fired = json.loads(render(entity["value_template"], late.text))
        assert (fired["event_type"], fired["feedback"], fired["reps_level"]) == ("answered", "good", 10)
        trigger = json.loads(configs[f"{prefix}/ha/device_automation/{node}/back-massage_answered/config"])
        assert (trigger["type"], trigger["topic"], trigger["payload"]) == (
            "answered",
            h.topic("event"),
            "answered",
        )
        assert render(trigger["value_template"], late.text) == "answered"


async def test_the_outcome_names_whose_run_it_was(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with people(tmp_path, broker, prefix, speech_cache) as home:
        mqtt, answered = home.watch.client, lambda m: m.json["event"] == "answered"
        first = len(home.watch.messages)
        # Ben's button starts his run; "cancel" closes its question unanswered.
        await home.run(
            lambda: home.press("bedroom"), lambda: mqtt.publish(home.topic("set"), "cancel", qos=1)
        )
        closed = await home.watch.wait_for(home.topic("event"), answered, since=first)
        assert (closed.json["profile"], closed.json["feedback"], closed.json["reps_level"]) == (
            "ben",
            None,
            5,
        )

        mark = len(home.watch.messages)
        await mqtt.publish(home.topic("set"), "good", qos=1)  # late: Ben's run, Ben's level
        late = await home.watch.wait_for(home.topic("event"), answered, since=mark)
        assert (late.json["profile"], late.json["feedback"], late.json["run_id"]) == (
            "ben",
            "good",
            closed.json["run_id"],
        )
        between = home.watch.messages[mark : home.watch.messages.index(late)]
        figures = [m.json for m in between if m.topic == home.topic("stats/ben")]
        assert [(f["reps_level"], f["towards"]["good"]) for f in figures] == [(5, 1)]  # Ben's, not Anna's
