"""The Conductor: commands from buttons, MQTT, schedules and the web, and which run is active."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any

import aiomqtt

from homeflow.answers import Answers
from homeflow.asking import button_hint, question_hint
from homeflow.commands import ANSWERS, BUTTON_WHILE_ASKING, OWNED_ELSEWHERE, Command
from homeflow.devices.lights.virtual import VirtualLight
from homeflow.devices.speakers.voice import say_once
from homeflow.homeassistant.entities import HOME_ASSISTANT
from homeflow.house import House, Room
from homeflow.mqtt import MqttConnection, describe, payload_text
from homeflow.people import NAMED, key, report_all, split_command
from homeflow.planning import first_run, prepare_plan, safety_owed
from homeflow.routine.guidance import said
from homeflow.routine.plan import Plan
from homeflow.routine.progression import Level
from homeflow.routine.safety import on_demand
from homeflow.run import Run
from homeflow.runner import RunState
from homeflow.settings.model import ScheduleTrigger, Zigbee2MqttButton
from homeflow.starts import done_today, lights_held, limits_refuse
from homeflow.status import RunEvent, idle

log = logging.getLogger(__name__)


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
        self.answers = Answers(rooms, house, self.levels, self._reply)
        self.owns: Callable[[str], bool] = lambda _routine: True  # in a cluster: what its leases say
        self._mqtt = mqtt
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
        report_all(self.house, self.rooms[routine_id], self.levels)

    # -- inputs ------------------------------------------------------------------------------------
    async def on_gesture(self, button: Zigbee2MqttButton, action: str) -> None:
        command = button.gestures.get(action)
        if command is None:
            log.info("button %s: %r means nothing here (gestures: %s)", button.name, action, button.gestures)
            return
        for routine_id, room in self.rooms.items():
            if button.name in room.buttons:
                trigger, whose = f"button:{button.name}", room.profile_of(button.name)
                hint = button_hint(button, said(room.routine))
                word = Command(command)
                if (run := self.active.get(routine_id)) is not None and run.asking:
                    word = BUTTON_WHILE_ASKING.get(word, word)
                self.command(routine_id, word, trigger, hint=hint, profile=whose)

    async def _on_set(self, message: aiomqtt.Message) -> None:
        if message.retain:
            return  # a retained command is history, not a request
        from_home_assistant = message.topic.matches(self._from_home_assistant)
        routine_id = message.topic.value.split("/")[-3 if from_home_assistant else -2]
        text, profile = split_command(payload_text(message).strip().lower())
        if routine_id not in self.rooms:
            log.warning("unknown routine %r: %s", routine_id, describe(message))
            return
        if profile is not None and (text not in NAMED or profile not in self.rooms[routine_id].profiles):
            log.warning("%s: no profile %r to start for: %s", routine_id, profile, describe(message))
            return
        try:
            command = Command(text)
        except ValueError:
            known = ", ".join(c.value for c in Command)
            log.warning("unknown command (expected one of %s): %s", known, describe(message))
            return
        trigger = HOME_ASSISTANT if from_home_assistant else "mqtt"
        self.command(routine_id, command, trigger, profile=profile)

    def command(
        self,
        routine_id: str,
        command: Command,
        trigger: str,
        hint: str | None = None,
        profile: str | None = None,
        *,
        run_id: int | None = None,
    ) -> str:
        """Carry out a command now; returns what happened, in words. `hint`: how the button that gave
        the command answers the question, said after it if this starts a run; `profile`: whose run a
        start is (None: the routine's first profile); `run_id`: the run an answer is for (History)."""
        if not self.owns(routine_id):  # every instance hears every command; the routine's owner acts
            log.debug("%s: %s by %s left to its owner", routine_id, command, trigger)
            return OWNED_ELSEWHERE
        run = self.active.get(routine_id)
        if command is Command.SAFETY:
            return self._safety(routine_id, run)
        feedback = ANSWERS.get(command)
        if run is not None and run.asking and (run_id is None or run_id == run.run_id):
            return self._said(routine_id, self.answers.to_question(run, command))
        if feedback is not None:
            return self._said(routine_id, self.answers.late(routine_id, feedback, run, run_id))
        if command is Command.TOGGLE:
            if run is None:
                command = Command.START
            else:
                command = Command.PAUSE if run.runner.state is RunState.RUNNING else Command.RESUME
        if command in (Command.START, Command.FORCE):
            force, whose = command is Command.FORCE, profile or self.rooms[routine_id].first
            return self._start(routine_id, trigger, force=force, hint=hint, profile=whose)
        if run is None:
            return self._said(routine_id, f"{command}: not running")
        done = {
            Command.PAUSE: run.pause,
            Command.RESUME: run.resume,
            Command.SKIP: run.skip,
            Command.CANCEL: run.cancel,
        }[command]()
        return self._said(routine_id, f"{command}" if done else f"{command}: nothing to do")

    async def forward(self, routine_id: str, command: Command, profile: str | None = None) -> bool:
        """Pass a command on to the instance that owns the routine, the way every instance hears
        commands (`<base>/<routine>/set`); False when the broker is not connected."""
        text = command.value if profile is None else f"{command.value}:{profile}"
        return await self._mqtt.publish(f"{self.status.base_topic}/{routine_id}/set", text)

    async def scheduled(self, routine_id: str, trigger: ScheduleTrigger, when: datetime) -> None:
        """A schedule's time has come: start the routine, or invite with `announce`; skip when it is
        running, already done today (if so configured) or beyond its limits."""
        label = f"schedule {when.isoformat(timespec='minutes')}"
        if not self.owns(routine_id):
            return
        if routine_id in self.active:
            self._said(routine_id, f"{label} skipped: already running")
            return
        room = self.rooms[routine_id]
        if trigger.skip_if_done_today and done_today(self.journal, room, self.house):
            self._said(routine_id, f"{label} skipped: already done today")
            return
        level = self.levels[key(routine_id, room.first)]
        refused = limits_refuse(self.journal, room, room.first, self.house, level)
        if why := refused or lights_held(room, self.active.values()):
            self._said(routine_id, f"{label} skipped: {why}")
            return
        if trigger.announce:
            self._said(routine_id, f"{label}: inviting")
            await self._say_outside_a_run(routine_id, trigger.announce)
            return
        self.command(routine_id, Command.START, trigger="schedule")

    async def preview(self, routine_id: str, profile: str | None = None) -> Plan:
        """The plan the next run (of `profile`, else of the first profile) will play."""
        room = self.rooms[routine_id]
        profile = profile or room.first
        person = room.person(profile)
        owed = safety_owed(self.journal, room.routine, person)
        first = first_run(self.journal, room.routine, person)
        level = self.levels[key(routine_id, profile)]
        hint = question_hint(room, profile)
        return await prepare_plan(room.routine, level, room.speakers, hint, safety=owed, first=first)

    # -- starting ----------------------------------------------------------------------------------
    def _start(
        self, routine_id: str, trigger: str, *, force: bool, hint: str | None, profile: str | None
    ) -> str:
        if routine_id in self.active:
            return self._said(routine_id, "already running")
        if self._stopping:
            return self._said(routine_id, "not started: homeflow is stopping")
        room = self.rooms[routine_id]
        level = self.levels[key(routine_id, profile)]
        refused = None if force else limits_refuse(self.journal, room, profile, self.house, level)
        why = lights_held(room, self.active.values()) or refused
        whose = {} if profile is None else {"profile": profile}
        if why is not None:
            self.status.event(routine_id, RunEvent.REFUSED, reason=why, trigger=trigger, **whose)
            self._speak(routine_id, why)
            return self._said(routine_id, f"not started: {why}")
        self.adopt(Run(room, trigger, level, self.house, hint, profile=profile))
        return self._said(routine_id, f"started by {trigger}")

    def adopt(self, run: Run) -> None:
        """Play `run`: a new one, or one taken over from another homeflow."""
        run.owned = lambda: self.owns(run.routine_id)
        self.active[run.routine_id] = run
        self._spawn(self._play(run), f"run {run.routine_id}")

    async def _play(self, run: Run) -> None:
        try:
            await run.play()
        finally:
            self.levels[key(run.routine_id, run.profile)] = run.level
            if self.active.get(run.routine_id) is run:  # not yet replaced by the run's take-over
                del self.active[run.routine_id]
                if not run.abandoned:  # an abandoned run's state is its next owner's to tell
                    self.status.state(run.routine_id, idle())

    # -- speaking outside a run --------------------------------------------------------------------
    def _safety(self, routine_id: str, run: Run | None) -> str:
        """The safety introduction on demand, said now outside a run (a run still says it until heard)."""
        text = on_demand(self.rooms[routine_id].routine)
        if text is None or run is not None:
            return self._said(routine_id, "safety: " + ("a run is on" if run else "this routine has none"))
        self._speak(routine_id, text, kind="safety")
        return self._said(routine_id, "safety: said")

    def _speak(self, routine_id: str, text: str, kind: str = "say") -> None:
        self._spawn(self._say_outside_a_run(routine_id, text, kind), f"say {routine_id}")

    def _reply(self, routine_id: str, text: str) -> None:
        """The reply to a late answer: said, and shown on the page that gave it."""
        self._spawn(self._say_outside_a_run(routine_id, text, reply=True), f"reply {routine_id}")

    async def _say_outside_a_run(
        self, routine_id: str, text: str, kind: str = "say", *, reply: bool = False
    ) -> None:
        tell = self.status.replied if reply else self.status.said
        tell(routine_id, text, kind=kind, run_id=None)
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
    async def stop(self, *, hand_over: bool = False) -> set[str]:
        """End every active run as interrupted and wait until its lights are back (service shutdown);
        with `hand_over` (another homeflow takes the routines once this one gives their leases back),
        leave each run open in the journal instead, its lamps as they are, for that one to go on with.
        Returns the routines whose runs were handed over.
        Cooperative, through the runner: a task cancel can be lost inside a library's `wait_for`."""
        self._stopping = True
        handed: set[str] = set()
        for run in self.active.values():
            paused = " (paused)" if run.runner.state is RunState.PAUSED else ""
            step = f"step {run.runner.step + 1}" if run.runner.step >= 0 else "its start"
            if hand_over and run.hand_over():
                log.info("%s: run %d handed over at %s%s", run.routine_id, run.run_id, step, paused)
                handed.add(run.routine_id)
            else:
                run.stop()
        if self._pending:
            await asyncio.wait(self._pending)
        return handed
