"""The Conductor: commands from buttons, MQTT, schedules and the web, and which run is active."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any

import aiomqtt

from homeflow.answers import Answers, button_hint
from homeflow.commands import ANSWERS, OWNED_ELSEWHERE, Command
from homeflow.devices.lights.virtual import VirtualLight
from homeflow.devices.speakers.voice import say_once
from homeflow.homeassistant.entities import HOME_ASSISTANT
from homeflow.mqtt import MqttConnection, describe, payload_text
from homeflow.planning import prepare_plan
from homeflow.routine.guidance import light_in_use, refusal
from homeflow.routine.plan import Plan
from homeflow.routine.progression import Level
from homeflow.run import House, Room, Run, figures
from homeflow.runner import RunState
from homeflow.settings.model import ScheduleTrigger, Zigbee2MqttButton
from homeflow.status import RunEvent, idle

log = logging.getLogger(__name__)


__all__ = ["Command", "Conductor"]


class Conductor:
    def __init__(
        self, rooms: dict[str, Room], *, house: House, levels: Mapping[str, Level], mqtt: MqttConnection
    ) -> None:
        self.rooms = rooms
        self.house = house
        self.journal = house.journal
        self.status = house.status
        self._from_home_assistant = f"{house.status.base_topic}/+/{HOME_ASSISTANT}/set"
        self.levels = dict(levels)  # the next run's level per routine, kept here: no journal on a press
        self.active: dict[str, Run] = {}
        self._tasks: asyncio.TaskGroup | None = None
        self._stopping = False
        self._pending: set[asyncio.Task[None]] = set()
        self.answers = Answers(rooms, house, self.levels, self._speak)
        self.owns: Callable[[str], bool] = lambda _routine: True  # in a cluster: what its leases say
        mqtt.route(f"{self.status.base_topic}/+/set", self._on_set)
        mqtt.route(self._from_home_assistant, self._on_set)  # Home Assistant's buttons
        for routine_id, room in rooms.items():
            for light in room.lights:
                if isinstance(light, VirtualLight):
                    light.watch(functools.partial(self._show_light, routine_id, light))
                    self._show_light(routine_id, light)

    def _show_light(self, routine_id: str, light: VirtualLight) -> None:
        self.status.light_changed(routine_id, light.name, light.shown())

    def attach(self, tasks: asyncio.TaskGroup) -> None:
        """Runs become tasks of the service's task group."""
        self._tasks = tasks

    def report_all(self) -> None:
        """Every routine's figures, once at start-up (afterwards each run reports its own)."""
        for routine_id in self.rooms:
            self.report(routine_id)

    def report(self, routine_id: str) -> None:
        level, reps = self.levels[routine_id], self.rooms[routine_id].routine.reps
        self.status.stats(routine_id, figures(self.journal, routine_id, level, reps, self.house.tz))

    # -- inputs ------------------------------------------------------------------------------------
    async def on_gesture(self, button: Zigbee2MqttButton, action: str) -> None:
        command = button.gestures.get(action)
        if command is None:
            log.info("button %s: %r means nothing here (gestures: %s)", button.name, action, button.gestures)
            return
        for routine_id, room in self.rooms.items():
            if button.name in room.buttons:
                trigger = f"button:{button.name}"
                self.command(routine_id, Command(command), trigger, hint=button_hint(button))

    async def _on_set(self, message: aiomqtt.Message) -> None:
        if message.retain:
            return  # a retained command is history, not a request
        from_home_assistant = message.topic.matches(self._from_home_assistant)
        routine_id = message.topic.value.split("/")[-3 if from_home_assistant else -2]
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
        self.command(routine_id, command, trigger=HOME_ASSISTANT if from_home_assistant else "mqtt")

    def command(self, routine_id: str, command: Command, trigger: str, hint: str | None = None) -> str:
        """Carry out a command now; returns what happened, in words. `hint`: how the button that gave
        the command answers the question, said after it if this starts a run."""
        if not self.owns(routine_id):  # every instance hears every command; the routine's owner acts
            log.debug("%s: %s by %s left to its owner", routine_id, command, trigger)
            return OWNED_ELSEWHERE
        run = self.active.get(routine_id)
        if run is not None and run.asking:
            return self._said(routine_id, self.answers.to_question(run, command))
        if (feedback := ANSWERS.get(command)) is not None:
            return self._said(routine_id, self.answers.late(routine_id, feedback, run))
        if command is Command.TOGGLE:
            if run is None:
                command = Command.START
            else:
                command = Command.PAUSE if run.runner.state is RunState.RUNNING else Command.RESUME
        if command in (Command.START, Command.FORCE):
            return self._start(routine_id, trigger, force=command is Command.FORCE, hint=hint)
        if run is None:
            return self._said(routine_id, f"{command}: not running")
        done = {
            Command.PAUSE: run.pause,
            Command.RESUME: run.resume,
            Command.SKIP: run.skip,
            Command.CANCEL: run.cancel,
        }[command]()
        return self._said(routine_id, f"{command}" if done else f"{command}: nothing to do")

    async def scheduled(self, routine_id: str, trigger: ScheduleTrigger, when: datetime) -> None:
        """A schedule's time has come: start the routine, or invite with `announce`; skip when it is
        running, already done today (if so configured) or beyond its limits."""
        label = f"schedule {when.isoformat(timespec='minutes')}"
        if not self.owns(routine_id):
            return
        if routine_id in self.active:
            self._said(routine_id, f"{label} skipped: already running")
            return
        if trigger.skip_if_done_today and self.journal.completed_today(routine_id, self.house.tz)[0]:
            self._said(routine_id, f"{label} skipped: already done today")
            return
        if why := self._refusal(routine_id) or self._lights_held(routine_id):
            self._said(routine_id, f"{label} skipped: {why}")
            return
        if trigger.announce:
            self._said(routine_id, f"{label}: inviting")
            await self._say_outside_a_run(routine_id, trigger.announce)
            return
        self.command(routine_id, Command.START, trigger="schedule")

    async def preview(self, routine_id: str) -> Plan:
        """The plan the next run will play."""
        room = self.rooms[routine_id]
        return await prepare_plan(room.routine, self.levels[routine_id], room.speakers)

    # -- starting ----------------------------------------------------------------------------------
    def _start(self, routine_id: str, trigger: str, *, force: bool, hint: str | None = None) -> str:
        if routine_id in self.active:
            return self._said(routine_id, "already running")
        if self._stopping:
            return self._said(routine_id, "not started: homeflow is stopping")
        why = self._lights_held(routine_id) or (None if force else self._refusal(routine_id))
        if why is not None:
            self.status.event(routine_id, RunEvent.REFUSED, reason=why, trigger=trigger)
            self._speak(routine_id, why)
            return self._said(routine_id, f"not started: {why}")
        self.adopt(Run(self.rooms[routine_id], trigger, self.levels[routine_id], self.house, hint))
        return self._said(routine_id, f"started by {trigger}")

    def adopt(self, run: Run) -> None:
        """Play `run`: a new one, or one taken over from another homeflow."""
        run.owned = lambda: self.owns(run.routine_id)
        self.active[run.routine_id] = run
        self._spawn(self._play(run), f"run {run.routine_id}")

    def _refusal(self, routine_id: str) -> str | None:
        routine = self.rooms[routine_id].routine
        if routine.limits.max_per_day is None and routine.limits.min_gap_s <= 0:
            return None  # the common case costs no query on the way from button to light
        today, last_ended = self.journal.completed_today(routine_id, self.house.tz)
        return refusal(routine, today, last_ended, self.house.clock.wall())

    def _lights_held(self, routine_id: str) -> str | None:
        """A lamp belongs to one run at a time: a second run would take the first one's dimmed look
        as its snapshot and leave the lamp dimmed."""
        wanted = {light.name for light in self.rooms[routine_id].lights}
        for other in self.active.values():
            shared = sorted(wanted & {light.name for light in other.room.lights})
            if shared:
                return light_in_use(shared[0], other.room.routine.name)
        return None

    async def _play(self, run: Run) -> None:
        try:
            await run.play()
        finally:
            self.levels[run.routine_id] = run.level
            if self.active.get(run.routine_id) is run:  # not yet replaced by the run's take-over
                del self.active[run.routine_id]
                self.status.state(run.routine_id, idle())

    # -- speaking outside a run --------------------------------------------------------------------
    def _speak(self, routine_id: str, text: str) -> None:
        self._spawn(self._say_outside_a_run(routine_id, text), f"say {routine_id}")

    async def _say_outside_a_run(self, routine_id: str, text: str) -> None:
        self.status.said(routine_id, text, kind="say", run_id=None)
        await say_once(self.rooms[routine_id].speakers, text, self.house.clock)

    @staticmethod
    def _said(routine_id: str, what: str) -> str:
        log.info("%s: %s", routine_id, what)
        return what

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """A task in the service's task group that `stop()` waits for."""
        if self._tasks is None:
            raise RuntimeError("conductor is not attached to a task group")
        task = self._tasks.create_task(work, name=name)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # -- the service's start and end ---------------------------------------------------------------
    async def stop(self) -> None:
        """End every active run as interrupted and wait until its lights are back (service shutdown).
        Cooperative, through the runner: a task cancel can be lost inside a library's `wait_for`."""
        self._stopping = True
        for run in self.active.values():
            run.stop()
        if self._pending:
            await asyncio.wait(self._pending)
