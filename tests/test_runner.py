"""The runner on a fake clock: every test plays minutes of routine in milliseconds."""

from __future__ import annotations

import asyncio
import dataclasses

from homeflow.clock import FakeClock, LoopClock
from homeflow.devices.lights.session import LightSession
from homeflow.devices.speakers.voice import Voice
from homeflow.routine.model import Routine, Say, Step, Wait
from homeflow.routine.plan import SPOKEN, Cue, CueKind, Plan, build_plan
from homeflow.runner import Runner, RunState

from .recorders import RecordingLight, RecordingSpeaker
from .routines import SHORT


def make(
    clock: FakeClock, *speakers: RecordingSpeaker
) -> tuple[Plan, Runner, RecordingSpeaker, RecordingLight]:
    plan = build_plan(SHORT, 3, lambda _t: 2.0)
    speaker, light = RecordingSpeaker(clock), RecordingLight(clock)
    voices = [Voice(s, clock) for s in (speaker, *speakers)]
    return (
        plan,
        Runner(plan.cues[0], clock=clock, lights=LightSession([light]), voices=voices),
        speaker,
        light,
    )


async def play(runner: Runner, plan: Plan) -> RunState:
    """Run the plan with the runner's light session and voices at work, as a run does."""

    async def prepared() -> Plan:
        return plan

    await runner.lights.take_snapshot()
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(runner.lights.run())
        for voice in runner.voices:
            tasks.create_task(voice.run())
        try:
            return await runner.run(prepared())
        finally:
            runner.lights.restore(0.0)
            for voice in runner.voices:
                voice.close()


class Observer:
    """Calls `act(cue)` at each cue and records the states the runner reports."""

    def __init__(self, runner: Runner, act: object = None) -> None:
        self.runner = runner
        self.act = act
        self.states: list[str] = []

    def cue_due(self, index: int, cue: Cue, late_s: float) -> None:
        if callable(self.act):
            self.act(cue)

    def state_changed(self) -> None:
        self.states.append(str(self.runner.state))


async def test_every_cue_fires_at_its_absolute_deadline() -> None:
    clock = FakeClock(start=100.0)
    plan, runner, speaker, light = make(clock)
    assert await play(runner, plan) is RunState.COMPLETED
    expected = [(100.0 + c.at, c.text) for c in plan.cues if c.kind in SPOKEN]
    assert speaker.said == expected
    assert [(t, a.brightness_pct) for t, a in light.applied] == [(100.0, 30), (146.0, 60)]
    assert light.state == {"state": "ON", "brightness": 200}  # given back at the end
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
    light = LightSession([RecordingLight(clock)])
    await play(Runner(plan.cues[0], clock=clock, lights=light, voices=[Voice(speaker, clock)]), plan)
    counts = [t for t, text in speaker.said if text in ("One.", "Two.", "Three.")]
    planned = [c.at for c in plan.cues if c.kind is CueKind.COUNT]
    assert counts == planned  # each beat is 4 s after the last, overrun or not


async def test_pause_keeps_the_place_and_shifts_the_remaining_deadlines() -> None:
    clock = FakeClock()
    plan, runner, speaker, _ = make(clock)
    paused: list[float] = []

    def pause_in_step_one(cue: Cue) -> None:
        if runner.step == 1 and not paused:
            paused.append(clock.now())
            runner.pause()

    observer = Observer(runner, pause_in_step_one)
    runner.observer = observer
    task = asyncio.create_task(play(runner, plan))
    while runner.state is not RunState.PAUSED and not task.done():  # noqa: ASYNC110 (fake clock)
        await asyncio.sleep(0)
    paused_at = clock.now()
    said_before = len(speaker.said)
    clock.advance(60)  # a minute's pause
    for _ in range(50):
        await asyncio.sleep(0)
    assert len(speaker.said) == said_before  # nothing happens while paused
    assert runner.ends_at == plan.total_s + 60
    runner.resume()
    assert await task is RunState.COMPLETED
    assert clock.now() == plan.total_s + 60
    states = observer.states
    assert "paused" in states
    assert states.index("paused") < states.index("running", states.index("paused"))
    assert paused_at == plan.cues[plan.first_cue_of_step(1) or 0].at


async def test_skip_jumps_to_the_next_step_now() -> None:
    clock = FakeClock()
    plan, runner, speaker, _ = make(clock)
    runner.observer = Observer(runner, lambda cue: cue.text == "Get ready." and runner.skip())
    assert await play(runner, plan) is RunState.COMPLETED
    texts = [t for _, t in speaker.said]
    # "Get ready." is still said in full; the 10 s wait after it is skipped.
    assert texts[:3] == ["Hello.", "Get ready.", "3 circles on the left."]
    left_intro = next(t for t, text in speaker.said if text == "3 circles on the left.")
    assert left_intro == 2.0
    assert clock.now() == plan.total_s - 12.0


async def test_cancel_stops_at_once() -> None:
    clock = FakeClock()
    plan, runner, speaker, light = make(clock)
    runner.observer = Observer(runner, lambda cue: cue.text == "Two." and runner.cancel())
    assert await play(runner, plan) is RunState.CANCELLED
    assert speaker.said[-1][1] == "One."  # "Two." was cut before it was spoken
    assert not runner.pause()
    assert not runner.skip()
    assert light.state == {"state": "ON", "brightness": 200}


async def test_a_cancel_while_the_plan_is_prepared_ends_the_run_before_anything_is_said() -> None:
    clock = FakeClock()
    _, runner, speaker, _ = make(clock)
    never: asyncio.Future[Plan] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(runner.run(never))
    await asyncio.sleep(0)
    assert runner.state is RunState.STARTING
    assert runner.cancel()
    assert await task is RunState.CANCELLED
    assert never.cancelled()
    assert speaker.said == []


class SilentSpeaker(RecordingSpeaker):
    """A speaker that never finishes its sentence, like a player that hangs."""

    async def say(self, text: str) -> None:
        await asyncio.Event().wait()


async def test_a_speaker_that_never_answers_holds_no_other_cue() -> None:
    clock = FakeClock()
    routine = Routine("one", "One", (Step("Only", (Say("Hello."), Say("Goodbye."))),))
    plan = build_plan(routine, 5, lambda _t: 0.0)
    missed: list[tuple[int, str, str]] = []
    fine = RecordingSpeaker(clock, name="fine")
    stuck = Voice(SilentSpeaker(clock, name="stuck"), clock, lambda *m: missed.append(m), grace_s=0.02)
    light = LightSession([RecordingLight(clock)])
    runner = Runner(plan.cues[0], clock=clock, lights=light, voices=[stuck, Voice(fine, clock)])
    assert await play(runner, plan) is RunState.COMPLETED
    assert fine.said == [(0.0, "Hello."), (0.0, "Goodbye.")]
    # The first sentence timed out; the second was skipped while the speaker was down.
    assert [(index, name) for index, name, _ in missed] == [(2, "stuck"), (3, "stuck")]
    assert missed[0][2] == "no answer within 0.0 s"
    assert missed[1][2] == "speaker down: no answer within 0.0 s"


async def test_a_run_taken_over_says_where_it_goes_on_then_plays_from_that_steps_start() -> None:
    clock = FakeClock(start=100.0)
    plan = build_plan(SHORT, 3, lambda _t: 2.0)
    text = f"Continuing with: {plan.steps[1][:1].lower()}{plan.steps[1][1:]}."
    plan = dataclasses.replace(plan, phrases={text: 3.0})
    speaker, light = RecordingSpeaker(clock), RecordingLight(clock)
    step = plan.first_cue_of_step(1)
    assert step is not None
    opening = Cue(0.0, CueKind.LIGHT, -1, ambience=SHORT.ambience)
    runner = Runner(
        opening, clock=clock, lights=LightSession([light]), voices=[Voice(speaker, clock)], start_at_step=1
    )
    assert await play(runner, plan) is RunState.COMPLETED
    rest = plan.cues[step:]
    expected = [(100.0, text)] + [(103.0 + c.at - rest[0].at, c.text) for c in rest if c.kind in SPOKEN]
    assert speaker.said == expected  # nothing of step 0 again; step 1 after the sentence, in its time
    assert clock.now() == 103.0 + plan.total_s - rest[0].at


async def test_a_run_taken_over_while_paused_waits_silent_and_says_where_it_goes_on_when_resumed() -> None:
    clock = FakeClock(start=100.0)
    plan = build_plan(SHORT, 3, lambda _t: 2.0)
    text = f"Continuing with: {plan.steps[1][:1].lower()}{plan.steps[1][1:]}."
    plan = dataclasses.replace(plan, phrases={text: 3.0})
    speaker, light = RecordingSpeaker(clock), RecordingLight(clock)
    lines: list[str] = []
    opening = Cue(0.0, CueKind.LIGHT, -1, ambience=SHORT.ambience)
    runner = Runner(
        opening,
        clock=clock,
        lights=LightSession([light]),
        voices=[Voice(speaker, clock)],
        start_at_step=1,
        start_paused=True,
        on_line=lines.append,
    )
    task = asyncio.create_task(play(runner, plan))
    while runner.state is not RunState.PAUSED:  # noqa: ASYNC110 (fake clock)
        await asyncio.sleep(0)
    assert runner.continuing == text
    clock.advance(60)
    for _ in range(50):
        await asyncio.sleep(0)
    assert speaker.said == [] and lines == []  # nothing while paused
    assert runner.resume()
    assert await task is RunState.COMPLETED
    step = plan.first_cue_of_step(1)
    assert step is not None
    rest = plan.cues[step:]
    expected = [(160.0, text)] + [(163.0 + c.at - rest[0].at, c.text) for c in rest if c.kind in SPOKEN]
    assert speaker.said == expected
    assert lines == [text]


async def test_a_waiting_run_holds_a_timer_not_tasks() -> None:
    """A thousand rooms wait between cues at once: each waiting run is one task (its own) and a timer on
    the loop. Tasks per wait filled the garbage collector's youngest generation, whose pauses were the
    cues' lateness tail. Cancelling wakes every run at once though its next cue is an hour away."""
    clock = LoopClock()
    routine = Routine(id="long", name="Long", steps=(Step("Wait", (Say("Rest."), Wait(3600))),))
    plan = build_plan(routine, 1, lambda _t: 1.0)
    runners = [Runner(plan.cues[0], clock=clock, lights=LightSession([])) for _ in range(50)]

    async def prepared() -> Plan:
        return plan

    before = len(asyncio.all_tasks())
    runs = [asyncio.create_task(runner.run(prepared())) for runner in runners]
    await asyncio.sleep(0.05)
    assert all(r.step == 0 for r in runners)  # every run has said its sentence and waits an hour
    assert len(asyncio.all_tasks()) - before == len(runners)
    for runner in runners:
        assert runner.cancel()
    async with asyncio.timeout(1):
        assert await asyncio.gather(*runs) == [RunState.CANCELLED] * len(runners)
