"""One run of a routine, from the first light change to the answer after it: its plan, runner, light
session and voices, the end-of-run question, and its journal record. It reports to the status
publisher and reads nothing back from it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from homeflow.asking import cancel_question, question_hint
from homeflow.devices.lights.session import LightSession
from homeflow.devices.speakers import restore_speakers
from homeflow.devices.speakers.voice import Line, Voice
from homeflow.house import House, Room
from homeflow.journal import JournalError, RunRecord, RunStatus
from homeflow.people import report, report_answer
from homeflow.planning import first_run, prepare_plan, safety_owed
from homeflow.routine.guidance import feedback_reply, said, stop_rules
from homeflow.routine.model import Ambience
from homeflow.routine.plan import SPOKEN, Cue, CueKind, Plan, estimate_speech_s, opening
from homeflow.routine.progression import Feedback, Level, advance
from homeflow.routine.safety import fingerprint
from homeflow.run_state import state_of
from homeflow.runner import Runner, RunState
from homeflow.status import RunEvent

log = logging.getLogger(__name__)
# The state's `question` while the question after a cancel is open.
DID_IT_HURT = "did_it_hurt"

# A restore is bounded per light (devices.base.RESTORE_TIMEOUT_S); this bounds waiting for the changes
# queued before it too.
GIVE_BACK_WITHIN_S = 15.0
_P = ParamSpec("_P")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Resume:
    """A run another homeflow left going, taken over: its journal record (the same run goes on), the
    step it goes on with, and the routine's ambience at that step."""

    record: RunRecord
    step: int
    ambience: Ambience
    paused: bool = False  # it was paused: it stays paused until the person goes on


class Run:
    def __init__(
        self,
        room: Room,
        trigger: str,
        level: Level,
        house: House,
        hint: str | None = None,
        *,
        profile: str | None = None,
        resume: Resume | None = None,
    ) -> None:
        self.room = room
        self.routine_id = room.routine.id
        self.trigger = trigger
        self.profile = profile  # whose run it is (None: the routine has no profiles)
        # Said after the question: how the button that started the run answers it, else how the room does.
        self.hint = hint or question_hint(room, profile)
        self.level = level  # the level this run plays; after the answer, the next run's
        self.house = house
        self.lights = LightSession(room.lights)
        self.voices = [Voice(speaker, house.clock, self._missed) for speaker in room.speakers]
        self.taken_over = resume
        first = (
            opening(room.routine) if resume is None else Cue(0.0, CueKind.LIGHT, -1, ambience=resume.ambience)
        )
        self.runner = Runner(
            first,
            clock=house.clock,
            lights=self.lights,
            voices=self.voices,
            observer=self,
            start_at_step=resume.step if resume else None,
            start_paused=resume.paused if resume else False,
            on_line=lambda text: house.status.said(self.routine_id, text, kind="say", run_id=self.run_id),
        )
        self.run_id: int | None = resume.record.id if resume else None
        self.started_at = resume.record.started_at if resume else house.clock.wall()
        # Whether this homeflow still owns the routine (a cluster's lease): only the owner writes cues.
        self.owned: Callable[[], bool] = lambda: True
        self._abandoned = False
        self.answer: asyncio.Future[Feedback | None] | None = None  # open while the question is
        self.after_cancel = False  # the question is "did it hurt?", after a cancel
        self._stopping = False
        self._ended = False
        self.safety: str | None = None  # the fingerprint of the safety introduction this run says
        self._safety_said = 0  # its sentences due so far

    @property
    def asking(self) -> bool:
        return self.answer is not None and not self.answer.done()

    @property
    def answered(self) -> bool:
        """The question was answered (the answer may not be journaled yet)."""
        return self.answer is not None and self.answer.done() and self.answer.result() is not None

    # -- commands ----------------------------------------------------------------------------------
    def pause(self) -> bool:
        return self._kept(self._spoken(self.runner.pause(), said(self.room.routine).paused), paused=True)

    def resume(self) -> bool:
        taken_over = self.runner.continuing is not None  # it says where it goes on instead of "Resuming"
        done = self.runner.resume()
        resuming = said(self.room.routine).resuming
        return self._kept(done if taken_over else self._spoken(done, resuming), paused=False)

    def skip(self) -> bool:
        return self._kept(self.runner.skip(), paused=False)

    def cancel(self) -> bool:
        return self.runner.cancel()  # the run's end says so and restores the lights

    def answer_with(self, feedback: Feedback | None) -> bool:
        if not self.asking:
            return False
        assert self.answer is not None
        self.answer.set_result(feedback)
        return True

    def stop(self) -> None:
        """The service is stopping: end now, as interrupted, lights restored."""
        self._stopping = True
        self.runner.cancel()
        self.answer_with(None)

    def hand_over(self) -> bool:
        """The service is stopping and another homeflow goes on with this run: stop as `abandon` does,
        the run left open in the journal at its position (paused, if it is) and the lamps as it has
        them. False, and stopped as `stop` does, if there is nothing to go on with: the run has not
        been journaled yet, or has ended (only its question is open)."""
        if self._abandoned:
            return False  # its next owner has it already
        if self.run_id is None or self._ended:
            self.stop()
            return False
        self.abandon()
        return True

    @property
    def abandoned(self) -> bool:
        return self._abandoned

    def abandon(self) -> None:
        """Another homeflow owns the routine now and goes on with this run: stop at once, and leave the
        lights, the journal's record and the run's end to it."""
        if self._abandoned or self._ended:
            return
        self._abandoned = True
        self.lights.let_go()
        for voice in self.voices:
            voice.interrupt()
        self.stop()

    def say(self, text: str, *, reply: bool = False) -> None:
        """Say a phrase around the plan's cues (paused, a reply) on every voice, now; `reply`: the
        reply to an answer, which the web's live view shows."""
        plan = self.runner.plan
        length = (plan.phrases.get(text) if plan else None) or estimate_speech_s(text)
        line = Line(text, self.house.clock.now(), length)
        for voice in self.voices:
            voice.say(line)
        tell = self.house.status.replied if reply else self.house.status.said
        tell(self.routine_id, text, kind="say", run_id=self.run_id)

    # -- the run's life ----------------------------------------------------------------------------
    async def play(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.lights.run(), name=f"lights {self.routine_id}")
            for voice in self.voices:
                tasks.create_task(voice.run(), name=f"voice {voice.name} {self.routine_id}")
            try:
                await self._perform()
            finally:
                self.lights.restore(self.room.routine.ambience.transition_s)  # if not done at the end
                for voice in self.voices:
                    voice.close()
        # After the question too: that is the last thing the speakers say.
        await asyncio.shield(restore_speakers(self.room.speakers))

    async def _perform(self) -> None:
        outcome = RunStatus.INTERRUPTED
        try:
            if self.taken_over is None:
                snapshot = await self.lights.take_snapshot()
                # Journaled before the first change: a crash mid-run still gives the lights back.
                self.run_id = self._write(
                    self.house.journal.start_run,
                    self.routine_id,
                    self.trigger,
                    self.level.reps,
                    0.0,
                    snapshot,
                    profile=self.profile,
                )
                self._tell(RunEvent.STARTED)
            else:  # the lamps look as the run left them: what to give back is the journal's snapshot
                names = {light.name for light in self.room.lights}
                snapshot = self.taken_over.record.light_snapshot
                self.lights.snapshot = {name: look for name, look in snapshot.items() if name in names}
                self._tell(RunEvent.RESUMED)
            self.state_changed()
            final = await self.runner.run(self._prepare())
            if final is RunState.COMPLETED:
                outcome = RunStatus.COMPLETED
            elif not self._stopping:
                outcome = RunStatus.CANCELLED
        except Exception as exc:
            log.error("%s: run failed: %s", self.routine_id, exc, exc_info=log.isEnabledFor(logging.DEBUG))
        finally:
            if not self._abandoned:
                await self._close(outcome)
        if outcome is RunStatus.COMPLETED and self.answer is not None and not self._abandoned:
            await self._hear_answer()
        elif outcome is RunStatus.CANCELLED and self.room.routine.feedback and not self._abandoned:
            await self._ask_after_cancel()

    async def _close(self, outcome: RunStatus) -> None:
        """Give the lights back, then journal the run's end: a homeflow that dies in between leaves the
        run open, and whichever takes it over closes it and gives the lights back (a completion if its
        end cue was journaled)."""
        if outcome is not RunStatus.COMPLETED:
            for voice in self.voices:
                voice.interrupt()
            if outcome is RunStatus.CANCELLED:
                self.say(said(self.room.routine).cancelled)
        self.lights.restore(self.room.routine.ambience.transition_s)
        try:
            async with asyncio.timeout(GIVE_BACK_WITHIN_S):
                await self.lights.given_back()
        except TimeoutError:
            log.warning("%s: lights not given back within %g s", self.routine_id, GIVE_BACK_WITHIN_S)
        self._end(outcome)

    async def _prepare(self) -> Plan:
        routine = self.room.routine
        step = self.taken_over.step if self.taken_over else None
        person = self.room.person(self.profile)
        owed = safety_owed(self.house.journal, routine, person)
        if step is not None:  # the plan the run began with, so its cues keep their numbers
            owed = owed or self._began_with_safety()
        self.safety = fingerprint(routine) if owed and step is None else None
        first = first_run(self.house.journal, routine, person)
        also = (self._cancel_question(),) if routine.feedback else ()
        plan = await prepare_plan(
            routine,
            self.level,
            self.room.speakers,
            self.hint,
            safety=owed,
            first=first,
            resume_at=step,
            also=also,
        )
        if self.run_id is not None:
            self._write(self.house.journal.set_planned, self.run_id, plan.total_s)
        return plan

    def _end(self, outcome: RunStatus) -> None:
        """Journal the run's end and tell the house, once."""
        if self._ended:
            return
        self._ended = True
        if self.run_id is not None:
            self._write(self.house.journal.finish_run, self.run_id, outcome)
            log.info("%s: run %d %s", self.routine_id, self.run_id, outcome)
        # The figures go out first: an automation reacting to `completed` reads the new streak.
        self._report_figures()
        self._tell(RunEvent(str(outcome)))

    async def _ask_after_cancel(self) -> None:
        """A person in sharp pain cancels: ask whether it hurt, and journal a yes on this run."""
        question = self._cancel_question()
        self.after_cancel = True
        self.answer = asyncio.get_running_loop().create_future()
        self.say(question)
        self.state_changed()
        plan = self.runner.plan
        await self._hear_answer((plan.phrases.get(question) if plan else None) or estimate_speech_s(question))

    def _cancel_question(self) -> str:
        """ "Did it hurt?", and how this person says yes (their button's gesture, else the page)."""
        button = self.room.button_of(self.profile, self.trigger)
        return cancel_question(button, said(self.room.routine))

    async def _hear_answer(self, asked_s: float | None = None) -> None:
        """Wait for the answer to the question (a button, a command) or for its time to run out;
        `asked_s`: how long the question takes to say (the plan's last cue's, unless given)."""
        assert self.answer is not None
        feedback = self.room.routine.feedback
        assert feedback is not None
        clock = self.house.clock
        if asked_s is None:
            assert self.runner.plan is not None
            asked_s = self.runner.plan.cues[-1].duration_s
        timeout_s = asked_s + feedback.timeout_s
        waiting = asyncio.ensure_future(clock.sleep_until(clock.now() + timeout_s))
        try:
            await asyncio.wait((self.answer, waiting), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
        self.answer_with(None)
        answer = self.answer.result()
        if self.run_id is not None:
            self._write(self.house.journal.set_feedback, self.run_id, answer)
            log.info("%s: run %d feedback %s", self.routine_id, self.run_id, answer or "none")
        self.level = advance(self.room.routine.reps, self.level, answer)
        routine = self.room.routine
        if reply := feedback_reply(
            answer, self.level, routine.reps.start, said(routine), stop_rules(routine)
        ):
            self.say(reply, reply=True)
        self.state_changed()
        report_answer(
            self.house,
            self.room,
            self.profile,
            self.level,
            feedback=answer,
            run_id=self.run_id,
            trigger=self.trigger,
        )

    # -- what the runner and voices report -----------------------------------------------------------
    def cue_due(self, index: int, cue: Cue, late_s: float) -> None:
        if self._abandoned or not self.owned():
            self.abandon()  # its new owner goes on with it: no cue of this one's is written any more
            return
        if self.run_id is not None:
            self._write(self.house.journal.record_cue, self.run_id, index, cue, late_s)
        if cue.kind in SPOKEN and cue.text:
            count = {"count": cue.count[0], "of": cue.count[1]} if cue.count else {}
            self.house.status.said(
                self.routine_id, cue.text, kind=str(cue.kind), step=cue.step, run_id=self.run_id, **count
            )
        self._heard_safety(cue)
        if cue.kind is CueKind.ASK:
            self.answer = asyncio.get_running_loop().create_future()
            self.state_changed()

    def _heard_safety(self, cue: Cue) -> None:
        """The safety introduction is heard once the cue after its last sentence is due, each sentence
        having been due in turn: a run cancelled during it, or skipped past it, owes it again."""
        if self.safety is None:
            return
        if cue.kind is CueKind.SAFETY:
            self._safety_said += 1
        elif self._safety_said == len(self.room.routine.safety):
            self._write(self.house.journal.record_safety, self.routine_id, self.safety, self.profile)
            self.safety = None

    def _began_with_safety(self) -> bool:
        """Whether the run taken over had begun with the safety introduction (its journaled cues)."""
        if self.run_id is None:
            return False
        try:
            return any(c["kind"] == str(CueKind.SAFETY) for c in self.house.journal.cues(self.run_id))
        except JournalError:
            return False

    def state_changed(self) -> None:
        if self._abandoned:
            return  # its next owner tells the routine's state (the run stopped here is not cancelled)
        about = {
            "run_id": self.run_id,
            "trigger": self.trigger,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            **self.whose(),
        }
        if self.asking and self.after_cancel:
            about["question"] = DID_IT_HURT  # a page offers "It hurt" alone
        self.house.status.state(
            self.routine_id, state_of(self.runner, about, asking=self.asking, clock=self.house.clock)
        )

    def _missed(self, index: int, speaker: str, why: str) -> None:
        if self.run_id is not None:
            self._write(self.house.journal.record_speaker_failure, self.run_id, index, speaker, why)

    # -- helpers ---------------------------------------------------------------------------------------
    def _kept(self, done: bool, *, paused: bool) -> bool:
        """A pause or its end, in the journal: a take-over goes on from it."""
        if done and self.run_id is not None:
            self._write(self.house.journal.set_paused, self.run_id, paused)
        return done

    def _spoken(self, done: bool, phrase: str) -> bool:
        if done:
            self.say(phrase)
        return done

    def whose(self) -> dict[str, str]:
        """`profile` for a state or an event, if the routine has profiles."""
        return {} if self.profile is None else {"profile": self.profile}

    def _tell(self, event: RunEvent) -> None:
        self.house.status.event(
            self.routine_id, event, run_id=self.run_id, trigger=self.trigger, **self.whose()
        )

    def _report_figures(self) -> None:
        report(self.house, self.room, self.profile, self.level)

    @staticmethod
    def _write(write: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T | None:
        """A journal write that fails (a full disk) costs the journal's record of that moment, never
        the run: the journal says so once, and owes the run's end and answer until it can write."""
        try:
            return write(*args, **kwargs)
        except JournalError:
            return None
