"""Plays every cue of a Plan on a clock: absolute deadlines, pause, resume, skip, cancel.

The runner waits for nothing but the clock and commands: it hands light changes to the run's light
session and sentences to each speaker's voice, and both carry them out in tasks of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Protocol

from homeflow.clock import Clock
from homeflow.devices.lights.session import LightSession
from homeflow.devices.speakers.voice import Line, Voice
from homeflow.routine.guidance import continuing_with
from homeflow.routine.plan import SPOKEN, Cue, CueKind, Plan, estimate_speech_s


class RunState(StrEnum):
    STARTING = "starting"  # the first light change is made; the plan is being prepared
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RunObserver(Protocol):
    def cue_due(self, index: int, cue: Cue, late_s: float) -> None:
        """A cue is being carried out now, `late_s` routine seconds after its deadline."""
        ...

    def state_changed(self) -> None:
        """The run's state, step or deadlines changed."""
        ...


class Runner:
    """Carries out one plan. Cue n fires at `base + cues[n].at`; a pause or a skip moves `base`.
    The plan's first cue (`opening`, the routine's ambience) is played at once, while the rest of the
    plan is still being prepared. A run taken over from another homeflow starts at `start_at_step`:
    it says which step it goes on with (telling `on_line`), then plays from that step's first cue; one
    taken over while paused (`start_paused`) waits, silent, and says it when resumed."""

    def __init__(
        self,
        opening: Cue,
        *,
        clock: Clock,
        lights: LightSession,
        voices: Sequence[Voice] = (),
        observer: RunObserver | None = None,
        start_at_step: int | None = None,
        start_paused: bool = False,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.opening = opening
        self.clock = clock
        self.lights = lights
        self.voices = voices
        self.observer = observer
        self.start_at_step = start_at_step
        self.start_paused = start_paused
        self.on_line = on_line
        self._continuing: str | None = None  # the sentence said before the step a take-over starts at
        self.plan: Plan | None = None
        self.state = RunState.STARTING
        self.step = -1
        self._base = 0.0
        self._paused_at = 0.0
        self._next = 1
        self._woken: asyncio.Future[None] | None = None  # what the run waits on; a command resolves it

    # -- commands (callable from any task) -----------------------------------------------------------
    def pause(self) -> bool:
        if self.state is not RunState.RUNNING:
            return False
        self.state, self._paused_at = RunState.PAUSED, self.clock.now()
        self._wake_up()
        return True

    def resume(self) -> bool:
        if self.state is not RunState.PAUSED:
            return False
        self._base += self.clock.now() - self._paused_at  # every remaining deadline moves by the pause
        self.state = RunState.RUNNING
        self._say_continuing()
        self._wake_up()
        return True

    def skip(self) -> bool:
        """Jump to the next step now (from a pause too: skipping means the person wants to go on)."""
        if self.plan is None or self.state not in (RunState.RUNNING, RunState.PAUSED):
            return False
        target = self.plan.first_cue_of_step(self.step + 1)
        if target is None:
            return False
        self.state = RunState.RUNNING
        self._continuing = None
        self._next = target
        self._base = self.clock.now() - self.plan.cues[target].at
        self._wake_up()
        return True

    def cancel(self) -> bool:
        if self.state not in (RunState.STARTING, RunState.RUNNING, RunState.PAUSED):
            return False
        self.state = RunState.CANCELLED
        self._wake_up()
        return True

    # -- timeline ----------------------------------------------------------------------------------
    @property
    def ends_at(self) -> float:
        """When the routine will end on the clock's timeline, given pauses so far."""
        return self._on_clock(self.plan.total_s if self.plan else 0.0)

    @property
    def step_span(self) -> tuple[float, float]:
        """When the current step began and when it will end on the clock's timeline, given pauses so
        far (before the first step: the preface, up to the first step)."""
        plan = self.plan
        if plan is None:
            return self.ends_at, self.ends_at
        begun = plan.first_cue_of_step(self.step) if self.step >= 0 else None
        following = plan.first_cue_of_step(self.step + 1)
        start = plan.cues[begun].at if begun is not None else 0.0
        end = plan.cues[following].at if following is not None else plan.total_s
        return self._on_clock(start), self._on_clock(end)

    def _on_clock(self, at: float) -> float:
        """Where the plan's offset `at` falls on the clock's timeline (a pause so far moves it on)."""
        pause = self.clock.now() - self._paused_at if self.state is RunState.PAUSED else 0.0
        return self._base + pause + at

    @property
    def continuing(self) -> str | None:
        """The sentence a run taken over while paused says when it is resumed."""
        return self._continuing

    @property
    def paused_at(self) -> float | None:
        return self._paused_at if self.state is RunState.PAUSED else None

    @property
    def elapsed_s(self) -> float:
        """Routine seconds played so far (pauses excluded)."""
        if self.plan is None:
            return 0.0
        now = self._paused_at if self.state is RunState.PAUSED else self.clock.now()
        return min(max(0.0, now - self._base), self.plan.total_s)

    async def run(self, plan: Awaitable[Plan]) -> RunState:
        """Play the opening cue, then the plan once `plan` is ready, to its end or until cancelled."""
        self._base = self.clock.now()
        self._carry_out(0, self.opening, 0.0)
        ready = await self._until_woken(plan)
        if ready is None:
            self._notify()
            return self.state
        self.plan, self.state = ready, RunState.RUNNING
        # Preparing took time that is nobody's cue: the rest of the plan starts from now.
        self._base = self.clock.now()
        if self.start_at_step is not None:
            self._continue_at(ready, self.start_at_step)
        cues = ready.cues
        while self._next < len(cues) and await self._wait_for_next(ready):
            index = self._next
            self._next += 1
            cue = cues[index]
            late = self.clock.now() - (self._base + cue.at)
            if cue.kind is CueKind.END:
                self.state = RunState.COMPLETED
            self._carry_out(index, cue, late)
            if cue.step != self.step or cue.kind is CueKind.END:
                self.step = cue.step
                self._notify()
        if self.state is RunState.CANCELLED:
            self._notify()
        return self.state

    def _continue_at(self, plan: Plan, step: int) -> None:
        """Go on at `step`: say so now (or, paused, once resumed); its first cue follows the sentence."""
        target = plan.first_cue_of_step(step)
        if target is None:
            return
        self._next = target
        self._base -= plan.cues[target].at
        self._continuing = continuing_with(plan.steps[step])
        if self.start_paused:
            self.state, self._paused_at = RunState.PAUSED, self.clock.now()
        else:
            self._say_continuing()

    def _say_continuing(self) -> None:
        text, self._continuing = self._continuing, None
        if text is None or self.plan is None:
            return
        length = self.plan.phrases.get(text) or estimate_speech_s(text)
        line = Line(text, self.clock.now(), length)
        for voice in self.voices:
            voice.say(line)
        self._base += length
        if self.on_line is not None:
            self.on_line(text)

    def _carry_out(self, index: int, cue: Cue, late_s: float) -> None:
        """Hand the cue to the devices (lights first: a button's press should be seen at once)."""
        due = self._base + cue.at  # before the observer, which may skip and so move the base
        if cue.kind is CueKind.LIGHT and cue.ambience is not None:
            self.lights.apply(cue.ambience)
        elif cue.kind is CueKind.END and self.plan is not None:
            self.lights.restore(self.plan.ambience.transition_s)
        if self.observer:
            self.observer.cue_due(index, cue, late_s)
        if cue.kind in SPOKEN and cue.text and self.state is not RunState.CANCELLED:
            line = Line(cue.text, due, cue.duration_s, index)
            for voice in self.voices:
                voice.say(line)

    async def _until_woken(self, plan: Awaitable[Plan]) -> Plan | None:
        """The prepared plan, or None if the run was cancelled first (the preparation is cancelled)."""
        task = asyncio.ensure_future(plan)
        task.add_done_callback(lambda _: self._wake_up())
        while not task.done() and self.state is not RunState.CANCELLED:
            await self._sleep_until(None)
        if self.state is RunState.CANCELLED:
            task.cancel()
            await asyncio.wait((task,))
            return None
        return task.result()

    async def _wait_for_next(self, plan: Plan) -> bool:
        """Wait until the next cue is due (pause and skip move it); False once the run is cancelled."""
        was_paused = False
        while True:
            if self.state is RunState.CANCELLED:
                return False
            if self.state is RunState.PAUSED:
                self._notify()
                await self._sleep_until(None)
                was_paused = True
                continue
            if was_paused:
                was_paused = False
                self._notify()
            deadline = self._base + plan.cues[self._next].at
            if self.clock.now() >= deadline:
                return True
            await self._sleep_until(deadline)

    async def _sleep_until(self, deadline: float | None) -> None:
        """Until `deadline` (None: no deadline) or until a command wakes the run, whichever is first.
        A waiting run holds one future and one timer. Tasks and coroutines per wait (some 35 objects a
        run) filled the garbage collector's youngest generation at a thousand rooms, and its pauses
        were most of the cues' lateness."""
        woken = self._woken = asyncio.get_running_loop().create_future()
        timer = None if deadline is None else self.clock.call_at(deadline, _resolve, woken)
        try:
            await woken
        finally:
            self._woken = None
            if timer is not None:
                timer.cancel()

    def _wake_up(self) -> None:
        if self._woken is not None:
            _resolve(self._woken)

    def _notify(self) -> None:
        if self.observer:
            self.observer.state_changed()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
