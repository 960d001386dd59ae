"""Guidance that adapts, through a real broker: feedback, progression from 5 to 10, daily limits."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeflow.journal import open_journal
from homeflow.routine.model import Reps
from homeflow.routine.progression import Feedback, next_level
from homeflow.triggers.buttons import DUPLICATE_WINDOW_S

from .harness import handled_so_far
from .home import Home, home
from .mosquitto import Broker

# Long enough to answer at the test's time scale (600 routine seconds are 1.5 s here), short enough
# that the run nobody answers ends soon.
PATIENT = {"timeout: 30 ": "timeout: 600 "}


async def run_once(h: Home, answer: str | None) -> list[str]:
    """Press, play the routine, answer the question; return what was said during this run."""
    first = len(h.watch.messages)
    await h.press("single")
    await h.watch.wait_for(h.topic("state"), lambda m: m.json["state"] == "asking", since=first, within=30)
    if answer is not None:
        await h.press(answer)
    await h.watch.wait_for(h.topic("state"), lambda m: m.json["state"] == "idle", since=first + 1)
    h.clock.shift(DUPLICATE_WINDOW_S)  # the next press is a new press, not a repeat of this one
    return [p["text"] for p in h.watch.payloads(h.topic("say"), since=first)]


async def test_two_good_sessions_go_up_to_ten_and_too_much_goes_back(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    edits = {**PATIENT, "max_per_day: 2 ": "max_per_day: 9 ", "min_gap_minutes: 120": "min_gap_minutes: 0"}
    async with home(tmp_path, broker, prefix, speech_cache, edits=edits) as h:
        first = await run_once(h, "single")
        assert first.count("Five.") == 6
        assert first[-2] == (
            "How did your back feel? With the massage button, press once if it felt good, twice if it was"
            " too much, or hold it down if it hurt."
        )
        assert first[-1] == "Thank you. Well done."
        second = await run_once(h, "single")
        assert second[-1] == "Thank you. Next time we go up to 10 repetitions."
        stats = await h.watch.wait_for(h.topic("stats"), lambda m: m.json["reps_level"] == 10)
        assert stats.json["completed_today"] == 2
        third = await run_once(h, "double")
        assert third[0] == "You had two good sessions in a row, so today we go up to 10 repetitions."
        assert third.count("Ten.") == 6 and "Five." in third  # counts go "One." … "Ten."
        assert third[-1] == "Thank you. Next time we go back to 5 repetitions. Take a rest day tomorrow."
        fourth = await run_once(h, None)  # nobody answers: neither up nor down
        assert fourth.count("Ten.") == 0 and fourth[0].startswith("Time for your back massage")
    with open_journal(tmp_path / "journal.db") as journal:
        runs = journal.runs()
        assert [(r.reps, r.feedback) for r in reversed(runs)] == [
            (5, Feedback.GOOD),
            (5, Feedback.GOOD),
            (10, Feedback.TOO_MUCH),
            (5, None),
        ]


async def test_a_third_press_on_the_same_day_starts_nothing_and_says_why(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="homeflow")
    async with home(
        tmp_path, broker, prefix, speech_cache, edits={"min_gap_minutes: 120": "min_gap_minutes: 0"}
    ) as h:
        await run_once(h, "single")
        await run_once(h, "single")
        before, logged = len(h.watch.messages), len(caplog.records)
        await h.press("single")
        said = await h.watch.wait_for(h.topic("say"), since=before)
        assert (
            said.json["text"]
            == "You have done the back massage twice today. Rest now: too much irritates the tissue."
        )
        refused = await h.watch.wait_for(h.topic("event"), since=before)
        assert (refused.json["event"], refused.json["reason"]) == ("refused", said.json["text"])
        await handled_so_far(broker, h.base)
        assert not [r for r in caplog.records[logged:] if "started by" in r.getMessage()]
        assert h.watch.payloads(h.topic("event"), since=before) == [refused.json]
        # The MQTT command `force` is for a person who knows better; the button never forces.
        await h.client.publish(h.topic("set"), "force", qos=1)
        await h.watch.wait_for(h.topic("event"), lambda m: m.json["event"] == "started", since=before)


async def test_a_second_press_too_soon_is_refused(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache) as h:
        await run_once(h, None)
        before = len(h.watch.messages)
        await h.press("single")
        said = await h.watch.wait_for(h.topic("say"), since=before)
        expected = "Your last back massage was a short while ago. Give your back 120 more minutes of rest."
        assert said.json["text"] == expected


answers = st.lists(st.sampled_from([*Feedback, None]), max_size=40)
levels = st.builds(
    lambda start, steps, step, good: Reps(start, start + steps * step, step, good),
    st.integers(1, 10),
    st.integers(0, 4),
    st.integers(1, 5),
    st.integers(1, 4),
)


@given(levels, answers)
def test_progression_never_passes_max_and_never_rises_after_too_much_or_hurt(
    reps: Reps, history: list[Feedback | None]
) -> None:
    level = next_level(reps, history)
    answered = [a for a in history if a is not None]
    # Below the start only the gentler run after "it hurt", at fewer repetitions (one at least).
    assert (reps.gentle_reps if level.gentle else reps.start) <= level.reps <= reps.max
    if answered and answered[-1] is Feedback.TOO_MUCH:
        assert level.reps == reps.start
    if answered and answered[-1] is Feedback.HURT:
        assert level.reps == reps.gentle_reps == max(1, -(-reps.start // 2)) < reps.start or reps.start == 1
    # The gentler run follows "it hurt" until a later answer.
    assert level.gentle == (bool(answered) and answered[-1] is Feedback.HURT)
    # Levels depend only on the answers: unanswered runs change nothing.
    assert next_level(reps, answered) == level
