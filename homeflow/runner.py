"""Plays a Plan against lights and speakers on a clock: absolute deadlines, pause, resume, skip, cancel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Any, Protocol

from homeflow.clock import Clock
from homeflow.devices.base import Light, Speaker
from homeflow.errors import SpeakerError
from homeflow.routine.model import Ambience
from homeflow.routine.plan import Cue, CueKind, Plan

log = logging.getLogger(__name__)


# Real seconds a speaker may take beyond a sentence's own length (network speakers fetch the clip first).
SAY_GRACE_S = 10.0


class RunState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RunObserver(Protocol):
    async def cue_due(self, runner: Runner, index: int, cue: Cue, late_s: float) -> None:
        """A cue is being carried out now, `late_s` routine seconds after its deadline."""
        ...

    async def state_changed(self, runner: Runner) -> None:
        """The run's state, step or deadlines changed."""
        ...


class Runner:
    """Carries out one plan. Cue n fires at `base + cues[n].at`; a pause or a skip moves `base`."""

    def __init__(
        self,
        plan: Plan,
        *,
        clock: Clock,
        lights: Sequence[Light] = (),
        speakers: Sequence[Speaker] = (),
        observer: RunObserver | None = None,
        on_speaker_failure: Callable[[int, str, str], None] | None = None,
        first_cue: int = 0,
        say_grace_s: float = SAY_GRACE_S,
    ) -> None:
        self.plan = plan
        self.say_grace_s = say_grace_s
        self.clock = clock
        self.lights = lights
        self.speakers = speakers
        self.observer = observer
        self.on_speaker_failure = on_speaker_failure  # (cue index, speaker name, error), for the journal
        self._failed_speakers: set[str] = set()
        self.state = RunState.RUNNING
        self.step = -1
        self._base = 0.0
        self._paused_at = 0.0
        self._next = first_cue  # a caller that carried out the first cues itself starts later
        self._wake = asyncio.Event()
        self._lighting: asyncio.Future[None] | None = None  # the latest light change, maybe under way

    # -- commands (callable from any task) -----------------------------------------------------------
    def pause(self) -> bool:
        if self.state is not RunState.RUNNING:
            return False
        self.state, self._paused_at = RunState.PAUSED, self.clock.now()
        self._wake.set()
        return True

    def resume(self) -> bool:
        if self.state is not RunState.PAUSED:
            return False
        self._base += self.clock.now() - self._paused_at  # every remaining deadline moves by the pause
        self.state = RunState.RUNNING
        self._wake.set()
        return True

    def skip(self) -> bool:
        """Jump to the next step now (from a pause too: skipping means the person wants to go on)."""
        target = self.plan.first_cue_of_step(self.step + 1)
        if target is None or self.state not in (RunState.RUNNING, RunState.PAUSED):
            return False
        self.state = RunState.RUNNING
        self._next = target
        self._base = self.clock.now() - self.plan.cues[target].at
        self._wake.set()
        return True

    def cancel(self) -> bool:
        if self.state not in (RunState.RUNNING, RunState.PAUSED):
            return False
        self.state = RunState.CANCELLED
        self._wake.set()
        return True

    # -- timeline ----------------------------------------------------------------------------------
    @property
    def ends_at(self) -> float:
        """When the run will end on the clock's timeline, given pauses so far."""
        pause = self.clock.now() - self._paused_at if self.state is RunState.PAUSED else 0.0
        return self._base + pause + self.plan.total_s

    @property
    def elapsed_s(self) -> float:
        """Routine seconds played so far (pauses excluded)."""
        now = self._paused_at if self.state is RunState.PAUSED else self.clock.now()
        return min(max(0.0, now - self._base), self.plan.total_s)

    async def run(self) -> RunState:
        """Play the plan to its end or until cancelled; return the final state."""
        self._base = self.clock.now()
        cues = self.plan.cues
        while self._next < len(cues) and await self._wait_for_next():
            index = self._next
            self._next += 1
            cue = cues[index]
            late = self.clock.now() - (self._base + cue.at)
            if cue.kind is CueKind.END:
                self.state = RunState.COMPLETED
            if cue.step != self.step or cue.kind is CueKind.END:
                self.step = cue.step
                await self._notify_state()
            if cue.kind is CueKind.LIGHT:
                await self._perform(cue)  # lights first: a button's press should be seen at once
            if self.observer:
                await self.observer.cue_due(self, index, cue, late)
            if cue.kind is not CueKind.LIGHT:
                await self._perform(cue)
        if self._lighting is not None:
            await asyncio.wait((self._lighting,))  # the restore that follows comes after the last change
        if self.state is RunState.CANCELLED:
            await self._notify_state()
        return self.state

    async def _apply(self, ambience: Ambience, previous: asyncio.Future[None] | None) -> None:
        if previous is not None:
            await asyncio.wait((previous,))
        results = await asyncio.gather(
            *(light.apply(ambience) for light in self.lights), return_exceptions=True
        )
        for light, result in zip(self.lights, results, strict=True):
            if isinstance(result, Exception):
                log.warning("light %s not set: %s", light.name, result)

    async def _wait_for_next(self) -> bool:
        """Wait until the next cue is due (pause and skip move it); False once the run is cancelled."""
        was_paused = False
        while True:
            self._wake.clear()
            if self.state is RunState.CANCELLED:
                return False
            if self.state is RunState.PAUSED:
                await self._notify_state()
                await self._wake.wait()
                was_paused = True
                continue
            if was_paused:
                was_paused = False
                await self._notify_state()
            deadline = self._base + self.plan.cues[self._next].at
            if self.clock.now() >= deadline:
                return True
            await self._interruptible(self.clock.sleep_until(deadline))

    async def _interruptible(self, work: Awaitable[Any]) -> None:
        """Await `work` until it ends or a command wakes the run (then `work` is cancelled)."""
        task = asyncio.ensure_future(work)
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((task, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            task.cancel()
            waker.cancel()

    async def _perform(self, cue: Cue) -> None:
        if cue.kind is CueKind.LIGHT and cue.ambience is not None:
            # The timeline does not wait for lights: one slow light (Home Assistant's 3 s timeout) would
            # make every later cue late. Each change waits for the one before, so none lands out of order.
            self._lighting = asyncio.ensure_future(self._apply(cue.ambience, self._lighting))
            await asyncio.sleep(0)  # under way before anything else of this cue
        elif cue.kind in (CueKind.SAY, CueKind.COUNT) and cue.text:
            text = cue.text
            limit = cue.duration_s + self.say_grace_s
            saying = asyncio.gather(
                *(self._say_within(speaker, text, limit) for speaker in self.speakers), return_exceptions=True
            )
            try:
                # A pause or skip lets the sentence finish; only a cancel cuts it short.
                while not saying.done() and self.state is not RunState.CANCELLED:
                    self._wake.clear()
                    await self._interruptible(asyncio.shield(saying))
            finally:
                if not saying.done():
                    saying.cancel()
                    await asyncio.wait((saying,))
                    if not saying.cancelled():
                        saying.exception()  # retrieved, so asyncio does not log it as lost
            if self.state is RunState.CANCELLED:
                return
            for speaker, result in zip(self.speakers, saying.result(), strict=True):
                if isinstance(result, Exception):
                    self._speaker_failed(speaker.name, cue, result)

    @staticmethod
    async def _say_within(speaker: Speaker, text: str, seconds: float) -> None:
        """A speaker that does not finish a sentence in its length plus a grace is a failed speaker."""
        try:
            async with asyncio.timeout(seconds):
                await speaker.say(text)
        except TimeoutError:
            raise SpeakerError(f"no answer within {seconds:.1f} s") from None

    def _speaker_failed(self, name: str, cue: Cue, error: Exception) -> None:
        """Warn once per speaker and run (a dead speaker would fail every cue), report every failed cue."""
        if name in self._failed_speakers:
            log.debug("speaker %s failed again: %s", name, error)
        else:
            self._failed_speakers.add(name)
            log.warning("speaker %s failed: %s; the run goes on without it until it answers", name, error)
        if self.on_speaker_failure is not None:
            index = next(i for i, c in enumerate(self.plan.cues) if c is cue)
            self.on_speaker_failure(index, name, str(error) or type(error).__name__)

    async def _notify_state(self) -> None:
        if self.observer:
            await self.observer.state_changed(self)
