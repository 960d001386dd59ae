"""The Conductor: one active run per routine, started and steered by buttons and commands."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

import aiomqtt

from homeflow.clock import Clock
from homeflow.devices.base import Light, LightSnapshot, Speaker
from homeflow.devices.lights.virtual import VirtualLight
from homeflow.devices.speakers import restore_speakers
from homeflow.journal import Journal, RunStatus, utcnow
from homeflow.mqtt import MqttConnection, describe, payload_text
from homeflow.routine.guidance import (
    CANCELLED,
    PAUSED,
    PHRASES,
    RESUMING,
    feedback_reply,
    level_announcement,
    refusal,
)
from homeflow.routine.model import Routine
from homeflow.routine.plan import Cue, CueKind, Plan, build_plan, estimate_speech_s, sentences
from homeflow.routine.progression import Feedback, next_level
from homeflow.runner import Runner, RunState
from homeflow.settings.model import ScheduleTrigger, Zigbee2MqttButton

log = logging.getLogger(__name__)

RESTORE_TIMEOUT_S = 5.0

StateListener = Callable[[str, dict[str, Any]], None]


class Command(StrEnum):
    START = "start"
    TOGGLE = "toggle"  # start when idle, else pause or resume
    PAUSE = "pause"
    RESUME = "resume"
    SKIP = "skip"
    CANCEL = "cancel"
    FORCE = "force"  # start even beyond the routine's limits (never from a button)


_SPOKEN = {Command.PAUSE: PAUSED, Command.RESUME: RESUMING, Command.CANCEL: CANCELLED}
# While the end-of-run question is open: once is "good", twice (skip) is "too much".
_ANSWERS = {
    Command.TOGGLE: Feedback.GOOD,
    Command.START: Feedback.GOOD,
    Command.SKIP: Feedback.TOO_MUCH,
}


@dataclass(slots=True)
class Room:
    """A routine with the lights and speakers its automations give it."""

    routine: Routine
    lights: list[Light] = field(default_factory=list)
    speakers: list[Speaker] = field(default_factory=list)
    buttons: list[str] = field(default_factory=list)


async def prepare_plan(room: Room, reps: int, preface: tuple[str, ...] = ()) -> Plan:
    """Render every sentence on every speaker, then time the plan by the longest rendering."""
    question = (room.routine.feedback.question,) if room.routine.feedback else ()
    texts = (*sentences(room.routine, reps, preface), *PHRASES, *question)
    durations: dict[str, float] = {}
    for measured in await asyncio.gather(*(s.prepare(texts) for s in room.speakers)):
        for text, seconds in measured.items():
            durations[text] = max(seconds, durations.get(text, 0.0))
    return build_plan(
        room.routine, reps, lambda text: durations.get(text) or estimate_speech_s(text), preface
    )


@dataclass(slots=True)
class ActiveRun:
    room: Room
    trigger: str
    task: asyncio.Task[None] | None = None
    runner: Runner | None = None  # None while the plan is being prepared
    run_id: int | None = None
    answer: asyncio.Future[Feedback | None] | None = None  # open while the end-of-run question is
    started_at: datetime = field(default_factory=utcnow)


class Conductor:
    def __init__(
        self,
        rooms: dict[str, Room],
        *,
        journal: Journal,
        mqtt: MqttConnection,
        clock: Clock,
        base_topic: str,
        time_scale: float = 1.0,
        tz: tzinfo | None = None,
    ) -> None:
        self.rooms = rooms
        self.journal = journal
        self.mqtt = mqtt
        self.clock = clock
        self.base_topic = base_topic
        self.time_scale = time_scale
        self.tz = tz  # what "today" means for limits and streaks; None is the system's
        self.active: dict[str, ActiveRun] = {}
        self._tasks: asyncio.TaskGroup | None = None
        self._listeners: list[StateListener] = []
        self._stopping = False
        self._pending: set[asyncio.Task[None]] = set()
        mqtt.route(f"{base_topic}/+/set", self._on_set)
        mqtt.on_connect(self.publish_all_states)
        for routine_id, room in rooms.items():
            for light in room.lights:
                if isinstance(light, VirtualLight):
                    light.watch(functools.partial(self.publish_state, routine_id))

    def attach(self, tasks: asyncio.TaskGroup) -> None:
        """Runs become tasks of the service's task group."""
        self._tasks = tasks

    # -- inputs ------------------------------------------------------------------------------------
    async def on_gesture(self, button: Zigbee2MqttButton, action: str) -> None:
        command = button.gestures.get(action)
        if command is None:
            log.info("button %s: %r means nothing here (gestures: %s)", button.name, action, button.gestures)
            return
        for routine_id, room in self.rooms.items():
            if button.name in room.buttons:
                self.command(routine_id, Command(command), trigger=f"button:{button.name}")

    async def _on_set(self, message: aiomqtt.Message) -> None:
        if message.retain:
            return  # a retained command is history, not a request
        routine_id = message.topic.value.split("/")[-2]
        text = payload_text(message).strip().lower()
        if routine_id not in self.rooms:
            log.warning("unknown routine %r: %s", routine_id, describe(message))
            return
        try:
            command = Command(text)
        except ValueError:
            known = ", ".join(c.value for c in Command)
            log.warning("unknown command (expected one of %s): %s", known, describe(message))
            return
        self.command(routine_id, command, trigger="mqtt")

    def command(self, routine_id: str, command: Command, trigger: str) -> str:
        """Carry out a command now; returns what happened, in words."""
        run = self.active.get(routine_id)
        if run is not None and run.answer is not None and not run.answer.done():
            return self._answer(routine_id, run.answer, command)
        if command is Command.TOGGLE:
            if run is None:
                command = Command.START
            elif run.runner is not None:
                command = Command.PAUSE if run.runner.state is RunState.RUNNING else Command.RESUME
        if command in (Command.START, Command.FORCE):
            if run is not None:
                return self._said(routine_id, "already running")
            if self._stopping:
                return self._said(routine_id, "not started: homeflow is stopping")
            room = self.rooms[routine_id]
            why = self._refusal(room.routine) if command is Command.START else None
            if why is not None:
                self._announce(routine_id, why)
                return self._said(routine_id, f"not started: {why}")
            self._start(routine_id, trigger)
            return self._said(routine_id, f"started by {trigger}")
        if run is None:
            return self._said(routine_id, f"{command}: not running")
        if command is Command.CANCEL and run.runner is None and run.task is not None:
            run.task.cancel()  # still preparing: nothing has moved yet
            return self._said(routine_id, "cancelled while preparing")
        runner = run.runner
        done = (
            runner is not None
            and {
                Command.PAUSE: runner.pause,
                Command.RESUME: runner.resume,
                Command.SKIP: runner.skip,
                Command.CANCEL: runner.cancel,
            }[command]()
        )
        if done and (phrase := _SPOKEN.get(command)):
            self._announce(routine_id, phrase)
        return self._said(routine_id, f"{command}" if done else f"{command}: nothing to do")

    async def scheduled(self, routine_id: str, trigger: ScheduleTrigger, when: datetime) -> None:
        """A schedule's time has come: start the routine, or invite with `announce`; skip when it is
        running, already done today (if so configured) or beyond its limits."""
        label = f"schedule {when.isoformat(timespec='minutes')}"
        if routine_id in self.active:
            self._said(routine_id, f"{label} skipped: already running")
            return
        routine = self.rooms[routine_id].routine
        if trigger.skip_if_done_today and self.journal.completed_today(routine_id, self.tz)[0]:
            self._said(routine_id, f"{label} skipped: already done today")
            return
        if why := self._refusal(routine):
            self._said(routine_id, f"{label} skipped: {why}")
            return
        if trigger.announce:
            self._said(routine_id, f"{label}: inviting")
            await self.say(routine_id, trigger.announce)
            return
        self.command(routine_id, Command.START, trigger="schedule")

    def _answer(self, routine_id: str, answer: asyncio.Future[Feedback | None], command: Command) -> str:
        """While the end-of-run question is open, the button answers it."""
        feedback = _ANSWERS.get(command)
        answer.set_result(feedback)
        return self._said(routine_id, f"feedback: {feedback or 'none'}")

    def _refusal(self, routine: Routine) -> str | None:
        if routine.limits.max_per_day is None and routine.limits.min_gap_s <= 0:
            return None  # the common case costs no query on the way from button to light
        today, last_ended = self.journal.completed_today(routine.id, self.tz)
        return refusal(routine, today, last_ended, utcnow())

    @staticmethod
    def _said(routine_id: str, what: str) -> str:
        log.info("%s: %s", routine_id, what)
        return what

    def _announce(self, routine_id: str, text: str) -> None:
        """Say `text` on the routine's speakers without holding up the caller."""
        if self._tasks is not None:
            self._spawn(self.say(routine_id, text), f"say {routine_id}")

    async def say(self, routine_id: str, text: str, run_id: int | None = None) -> None:
        """Say `text` on the routine's speakers and relay it on the say topic."""
        speakers = self.rooms[routine_id].speakers
        await self.mqtt.publish(
            f"{self.base_topic}/{routine_id}/say", {"text": text, "kind": "say", "run_id": run_id}
        )
        results = await asyncio.gather(*(s.say(text) for s in speakers), return_exceptions=True)
        for speaker, result in zip(speakers, results, strict=True):
            if isinstance(result, Exception):
                log.warning("%s: speaker %s could not say %r: %s", routine_id, speaker.name, text, result)
        if routine_id not in self.active:
            await restore_speakers(speakers)  # an invitation outside a run: give the music back now

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """A task in the service's task group that `stop()` waits for."""
        if self._tasks is None:
            raise RuntimeError("conductor is not attached to a task group")
        task = self._tasks.create_task(work, name=name)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    # -- a run's life ------------------------------------------------------------------------------
    def _start(self, routine_id: str, trigger: str) -> None:
        run = ActiveRun(self.rooms[routine_id], trigger)
        self.active[routine_id] = run
        run.task = self._spawn(self._play(routine_id, run), f"run {routine_id}")

    async def _play(self, routine_id: str, run: ActiveRun) -> None:
        try:
            status = await self._perform(routine_id, run)
            if status is RunStatus.COMPLETED and run.room.routine.feedback and run.run_id is not None:
                await self._ask_feedback(routine_id, run, run.run_id)
        finally:
            del self.active[routine_id]
            # After the feedback question too: that is the last thing the speakers say.
            await asyncio.shield(restore_speakers(run.room.speakers))
            await asyncio.shield(self._publish_after(routine_id))

    async def _perform(self, routine_id: str, run: ActiveRun) -> RunStatus:
        room = run.room
        status = RunStatus.INTERRUPTED
        snapshot: dict[str, LightSnapshot] = {}
        try:
            level = next_level(room.routine.reps, self.journal.feedback_history(routine_id))
            snapshots = await asyncio.gather(*(light.snapshot() for light in room.lights))
            snapshot = {light.name: snap for light, snap in zip(room.lights, snapshots, strict=True)}
            # The snapshot is journaled before the first change; then the lights dim at once, and the
            # speech is prepared while they fade (a cold speech cache takes seconds).
            run.run_id = self.journal.start_run(routine_id, run.trigger, level.reps, 0.0, snapshot)
            ambience = room.routine.ambience
            await asyncio.gather(*(light.apply(ambience) for light in room.lights))
            announcement = level_announcement(level, room.routine.reps.good_sessions_to_progress)
            plan = await prepare_plan(room, level.reps, (announcement,) if announcement else ())
            self.journal.set_planned(run.run_id, plan.total_s)
            self.journal.record_cue(run.run_id, 0, plan.cues[0], 0.0)
            run.runner = Runner(
                plan,
                clock=self.clock,
                lights=room.lights,
                speakers=room.speakers,
                observer=_Observer(self, run),
                first_cue=1,  # cue 0 is the routine's ambience, applied above
                on_speaker_failure=functools.partial(self.journal.record_speaker_failure, run.run_id),
            )
            # Not awaited: the broker's acknowledgement must not delay the first light command.
            self._spawn(self._publish_event(routine_id, "started", run), f"event {routine_id}")
            final = await run.runner.run()
            if final is RunState.COMPLETED:
                status = RunStatus.COMPLETED
            elif not self._stopping:
                status = RunStatus.CANCELLED
        except Exception as exc:
            log.error("%s: run failed: %s", routine_id, exc, exc_info=log.isEnabledFor(logging.DEBUG))
        finally:
            # Runs on shutdown too: give the lights back before anything else stops.
            await asyncio.shield(self._close(routine_id, run, snapshot, status))
        return status

    async def _close(
        self, routine_id: str, run: ActiveRun, snapshot: dict[str, LightSnapshot], status: RunStatus
    ) -> None:
        await restore_lights(run.room.lights, snapshot, run.room.routine.ambience.transition_s)
        if run.run_id is not None:
            self.journal.finish_run(run.run_id, status)
            log.info("%s: run %d %s", routine_id, run.run_id, status)
            await self._publish_event(routine_id, str(status), run)

    async def _ask_feedback(self, routine_id: str, run: ActiveRun, run_id: int) -> None:
        """Ask how it felt; the button answers (or nobody does, within the timeout)."""
        routine = run.room.routine
        assert routine.feedback is not None
        run.answer = asyncio.get_running_loop().create_future()
        await self.publish_state(routine_id)
        await self.say(routine_id, routine.feedback.question, run_id)
        waiting = asyncio.ensure_future(self.clock.sleep_until(self.clock.now() + routine.feedback.timeout_s))
        try:
            await asyncio.wait((run.answer, waiting), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
        answer = run.answer.result() if run.answer.done() else None
        self.journal.set_feedback(run_id, answer)
        log.info("%s: run %d feedback %s", routine_id, run_id, answer or "none")
        after = next_level(routine.reps, self.journal.feedback_history(routine_id))
        if reply := feedback_reply(answer, after, routine.reps.start):
            await self.say(routine_id, reply, run_id)

    async def _publish_after(self, routine_id: str) -> None:
        await self.publish_state(routine_id)
        await self.publish_stats(routine_id)

    async def stop(self) -> None:
        """End every active run as interrupted and wait until its lights are back (service shutdown).
        Cooperative, through the runner: a task cancel can be lost inside a library's `wait_for`."""
        self._stopping = True
        for run in self.active.values():
            if run.runner is not None:
                run.runner.cancel()
            elif run.task is not None:
                run.task.cancel()  # still preparing: nothing has moved yet
            if run.answer is not None and not run.answer.done():
                run.answer.set_result(None)
        # Every task of ours, also a run already out of `active` but still publishing its end.
        if self._pending:
            await asyncio.wait(self._pending)

    async def recover(self, lights: dict[str, Light]) -> None:
        """Close runs a crash left open, and give their lights back."""
        for record in self.journal.unfinished_runs():
            known = {name: snap for name, snap in record.light_snapshot.items() if name in lights}
            await restore_lights([lights[name] for name in known], known, 0.0)
            self.journal.finish_run(record.id, RunStatus.INTERRUPTED)
            log.warning(
                "%s: run %d was interrupted at %s; %d light(s) restored",
                record.routine,
                record.id,
                record.started_at.isoformat(timespec="seconds"),
                len(known),
            )

    # -- what the rest of the house sees -----------------------------------------------------------
    def state_of(self, routine_id: str) -> dict[str, Any]:
        run = self.active.get(routine_id)
        runner = run.runner if run else None
        if run is None or runner is None:
            return {
                "state": "idle" if run is None else "starting",
                "step": None,
                "step_index": None,
                **self._shown_lights(routine_id),
            }
        plan = runner.plan
        step = runner.step if runner.step >= 0 else None
        asking = run.answer is not None and not run.answer.done()
        ends_in = (runner.ends_at - self.clock.now()) / self.time_scale
        return {
            "state": "asking" if asking else str(runner.state),
            "step": plan.steps[step] if step is not None else None,
            "step_index": step,
            "steps": len(plan.steps),
            "reps": plan.reps,
            "run_id": run.run_id,
            "trigger": run.trigger,
            "started_at": run.started_at.isoformat(timespec="seconds"),
            "ends_at": (utcnow() + timedelta(seconds=ends_in)).isoformat(timespec="seconds"),
            "progress": round(100 * runner.elapsed_s / plan.total_s) if plan.total_s else 0,
            **self._shown_lights(routine_id),
        }

    def _shown_lights(self, routine_id: str) -> dict[str, Any]:
        """A virtual light's look rides on the state, so the dashboard shows it dim with the run."""
        shown = {
            light.name: light.shown()
            for light in self.rooms[routine_id].lights
            if isinstance(light, VirtualLight)
        }
        return {"lights": shown} if shown else {}

    def stats_of(self, routine_id: str) -> dict[str, Any]:
        """History at a glance: last completion, streak, and the level the next run will use."""
        level = next_level(self.rooms[routine_id].routine.reps, self.journal.feedback_history(routine_id))
        return {
            **self.journal.stats(routine_id, self.tz),
            "reps_level": level.reps,
            "reps_reason": level.reason,
        }

    def watch(self, listener: StateListener) -> Callable[[], None]:
        """Call `listener(routine_id, state)` on every state change; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def publish_state(self, routine_id: str) -> None:
        state = self.state_of(routine_id)
        for listener in list(self._listeners):
            listener(routine_id, state)
        await self.mqtt.publish(f"{self.base_topic}/{routine_id}/state", state, retain=True)

    async def publish_stats(self, routine_id: str) -> None:
        await self.mqtt.publish(
            f"{self.base_topic}/{routine_id}/stats", self.stats_of(routine_id), retain=True
        )

    async def publish_all_states(self) -> None:
        for routine_id in self.rooms:
            await self.publish_state(routine_id)
            await self.publish_stats(routine_id)

    async def _publish_event(self, routine_id: str, event: str, run: ActiveRun) -> None:
        await self.mqtt.publish(
            f"{self.base_topic}/{routine_id}/event",
            {"event": event, "run_id": run.run_id, "trigger": run.trigger, "at": utcnow().isoformat()},
        )


async def restore_lights(
    lights: list[Light], snapshot: dict[str, LightSnapshot], transition_s: float
) -> None:
    """Give every light its snapshot back, bounded in time so shutdown never hangs on a device."""
    lights = [light for light in lights if light.name in snapshot]
    try:
        async with asyncio.timeout(RESTORE_TIMEOUT_S):
            results = await asyncio.gather(
                *(light.restore(snapshot[light.name], transition_s) for light in lights),
                return_exceptions=True,
            )
    except TimeoutError:
        log.warning("lights not restored within %g s", RESTORE_TIMEOUT_S)
        return
    for light, result in zip(lights, results, strict=True):
        if isinstance(result, Exception):
            log.warning("light %s not restored: %s", light.name, result)


class _Observer:
    """Journals each cue, relays announcements and publishes state as the runner goes."""

    def __init__(self, conductor: Conductor, run: ActiveRun) -> None:
        self.conductor = conductor
        self.run = run

    async def cue_due(self, runner: Runner, index: int, cue: Cue, late_s: float) -> None:
        c = self.conductor
        routine_id = runner.plan.routine_id
        if self.run.run_id is not None:
            c.journal.record_cue(self.run.run_id, index, cue, late_s)
        if cue.kind in (CueKind.SAY, CueKind.COUNT):
            await c.mqtt.publish(
                f"{c.base_topic}/{routine_id}/say",
                {"text": cue.text, "kind": str(cue.kind), "step": cue.step, "run_id": self.run.run_id},
            )

    async def state_changed(self, runner: Runner) -> None:
        await self.conductor.publish_state(runner.plan.routine_id)
