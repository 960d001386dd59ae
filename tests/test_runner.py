"""The runner on a fake clock: every test plays minutes of routine in milliseconds."""

from __future__ import annotations

import asyncio

from homeflow.clock import FakeClock
from homeflow.routine.model import Routine, Say, Step
from homeflow.routine.plan import CueKind, Plan, build_plan
from homeflow.runner import Runner, RunState

from .recorders import RecordingLight, RecordingSpeaker
from .routines import SHORT


def make(clock: FakeClock) -> tuple[Plan, Runner, RecordingSpeaker, RecordingLight]:
    plan = build_plan(SHORT, 3, lambda _t: 2.0)
    speaker, light = RecordingSpeaker(clock), RecordingLight(clock)
    return plan, Runner(plan, clock=clock, lights=[light], speakers=[speaker]), speaker, light


async def test_every_cue_fires_at_its_absolute_deadline() -> None:
    clock = FakeClock(start=100.0)
    plan, runner, speaker, light = make(clock)
    assert await runner.run() is RunState.COMPLETED
    expected = [(100.0 + c.at, c.text) for c in plan.cues if c.kind in (CueKind.SAY, CueKind.COUNT)]
    assert speaker.said == expected
    assert [(t, a.brightness_pct) for t, a in light.applied] == [(100.0, 30), (146.0, 60)]
    assert clock.now() == 100.0 + plan.total_s


class SlowSpeaker(RecordingSpeaker):
    """Each sentence overruns by 0.5 s: deadlines must not drift by the sum of overruns."""

    async def say(self, text: str) -> None:
        await super().say(text)
        self.clock.advance(0.5)


async def test_late_cues_do_not_push_later_ones() -> None:
    clock = FakeClock()
    plan = build_plan(SHORT, 3, lambda _t: 2.0)
    speaker = SlowSpeaker(clock)
    await Runner(plan, clock=clock, speakers=[speaker]).run()
    counts = [t for t, text in speaker.said if text in ("One.", "Two.", "Three.")]
    planned = [c.at for c in plan.cues if c.kind is CueKind.COUNT]
    assert counts == planned  # each beat is 4 s after the last, overrun or not
    assert clock.now() == plan.total_s


async def test_pause_keeps_the_place_and_shifts_the_remaining_deadlines() -> None:
    clock = FakeClock()
    plan, runner, speaker, _ = make(clock)
    states: list[str] = []
    paused: list[float] = []

    class Observer:
        async def cue_due(self, r: Runner, index: int, cue: object, late_s: float) -> None:
            if r.step == 1 and not paused:
                paused.append(clock.now())
                r.pause()

        async def state_changed(self, r: Runner) -> None:
            states.append(str(r.state))

    runner.observer = Observer()
    task = asyncio.create_task(runner.run())
    while runner.state is not RunState.PAUSED and not task.done():  # noqa: ASYNC110 (fake clock)
        await asyncio.sleep(0)
    paused_at = clock.now()
    said_before = len(speaker.said)
    clock.advance(60)  # a minute's pause
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(speaker.said) == said_before  # nothing happens while paused
    assert runner.ends_at == plan.total_s + 60
    runner.resume()
    assert await task is RunState.COMPLETED
    assert clock.now() == plan.total_s + 60
    assert "paused" in states
    assert states.index("paused") < states.index("running", states.index("paused"))
    assert paused_at == plan.cues[plan.first_cue_of_step(1) or 0].at


async def test_skip_jumps_to_the_next_step_now() -> None:
    clock = FakeClock()
    plan, runner, speaker, _ = make(clock)

    class Observer:
        async def cue_due(self, r: Runner, index: int, cue: object, late_s: float) -> None:
            if getattr(cue, "text", None) == "Get ready.":
                r.skip()

        async def state_changed(self, r: Runner) -> None:
            pass

    runner.observer = Observer()
    assert await runner.run() is RunState.COMPLETED
    texts = [t for _, t in speaker.said]
    # "Get ready." is still said in full; the 10 s wait after it is skipped.
    assert texts[:3] == ["Hello.", "Get ready.", "3 circles on the left."]
    left_intro = next(t for t, text in speaker.said if text == "3 circles on the left.")
    assert left_intro == 2.0
    assert clock.now() == plan.total_s - 12.0


async def test_cancel_stops_at_once() -> None:
    clock = FakeClock()
    _, runner, speaker, _ = make(clock)

    class Observer:
        async def cue_due(self, r: Runner, index: int, cue: object, late_s: float) -> None:
            if getattr(cue, "text", None) == "Two.":
                r.cancel()

        async def state_changed(self, r: Runner) -> None:
            pass

    runner.observer = Observer()
    assert await runner.run() is RunState.CANCELLED
    assert speaker.said[-1][1] == "One."  # "Two." was cut before it was spoken
    assert not runner.pause()
    assert not runner.skip()


class SilentSpeaker(RecordingSpeaker):
    """A speaker that never finishes its sentence, like a player that hangs."""

    async def say(self, text: str) -> None:
        await asyncio.Event().wait()


async def test_a_speaker_that_never_answers_is_a_failed_speaker_and_the_run_goes_on() -> None:
    clock = FakeClock()
    routine = Routine("one", "One", (Step("Only", (Say("Hello."), Say("Goodbye."))),))
    plan = build_plan(routine, 5, lambda _t: 0.0)
    failures: list[tuple[int, str, str]] = []
    fine = RecordingSpeaker(clock, name="fine")
    runner = Runner(
        plan,
        clock=clock,
        speakers=[SilentSpeaker(clock, name="stuck"), fine],
        on_speaker_failure=lambda *failure: failures.append(failure),
        say_grace_s=0.02,
    )
    assert await runner.run() is RunState.COMPLETED
    assert [text for _, text in fine.said] == ["Hello.", "Goodbye."]
    assert [(name, error) for _, name, error in failures] == [("stuck", "no answer within 0.0 s")] * 2
