"""A routine's settings that Home Assistant can change: the switch that pauses its schedules, and the
number of repetitions its next run plays.

The switch's state is kept by the broker (`<base>/<routine>/schedules`, retained `ON`/`OFF`), so a
paused routine stays paused across restarts: on every connect homeflow takes the retained states the
broker sends on subscribing, then asks for its own marker (`<base>/schedules/sync`), which the broker
sends after them, and publishes every routine's state once it arrives (`ON` for one never switched).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

import aiomqtt

from homeflow.conductor import Conductor
from homeflow.mqtt import MqttConnection, describe, payload_text
from homeflow.people import key, report
from homeflow.routine.progression import Level
from homeflow.settings.model import ScheduleTrigger

log = logging.getLogger(__name__)

SET_IN_HOME_ASSISTANT = "set in Home Assistant"
_SWITCH = {"ON": True, "OFF": False}


class Controls:
    def __init__(self, conductor: Conductor, mqtt: MqttConnection) -> None:
        self.conductor = conductor
        self.mqtt = mqtt
        base = conductor.status.base_topic
        self.paused: set[str] = set()
        self._sync = f"{base}/schedules/sync"
        mqtt.route(f"{base}/+/schedules", self._on_kept)
        mqtt.route(f"{base}/+/schedules/set", self._on_switch)
        mqtt.route(f"{base}/+/reps/set", self._on_reps)
        mqtt.route(self._sync, self._on_sync)
        mqtt.on_connect(self._on_connect)

    async def scheduled(self, routine_id: str, trigger: ScheduleTrigger, when: datetime) -> None:
        """The scheduler's call: skipped while the routine's schedules are paused."""
        if routine_id in self.paused:
            log.info(
                "%s: schedule %s skipped: schedules are paused", routine_id, when.isoformat("T", "minutes")
            )
            return
        await self.conductor.scheduled(routine_id, trigger, when)

    # -- the schedules switch ----------------------------------------------------------------------
    async def _on_connect(self) -> None:
        await self.mqtt.publish(self._sync, "sync")

    async def _on_sync(self, message: aiomqtt.Message) -> None:
        for routine_id in self.conductor.rooms:
            self.conductor.status.schedules(routine_id, routine_id not in self.paused)

    async def _on_kept(self, message: aiomqtt.Message) -> None:
        if not message.retain or message.topic.value.split("/")[-2] not in self.conductor.rooms:
            return  # our own state coming back, or a routine since deleted
        if (found := self._switched(message)) is not None:
            self._set_paused(*found)

    async def _on_switch(self, message: aiomqtt.Message) -> None:
        if message.retain:
            return  # a retained command is history, not a request
        if (found := self._switched(message)) is not None:
            routine_id, enabled = found
            self._set_paused(routine_id, enabled)
            log.info("%s: schedules %s", routine_id, "on" if enabled else "paused")
            self.conductor.status.schedules(routine_id, enabled)

    def _switched(self, message: aiomqtt.Message) -> tuple[str, bool] | None:
        routine_id = self._routine(message, 3 if message.topic.value.endswith("/set") else 2)
        enabled = _SWITCH.get(payload_text(message).strip().upper())
        if routine_id is None:
            return None
        if enabled is None:
            log.warning("schedules: expected ON or OFF: %s", describe(message))
            return None
        return routine_id, enabled

    def _set_paused(self, routine_id: str, enabled: bool) -> None:
        if enabled:
            self.paused.discard(routine_id)
        else:
            self.paused.add(routine_id)

    # -- the next run's repetitions ----------------------------------------------------------------
    async def _on_reps(self, message: aiomqtt.Message) -> None:
        if message.retain or (routine_id := self._routine(message, 3)) is None:
            return
        room = self.conductor.rooms[routine_id]
        reps, first = room.routine.reps, room.first  # the routine's number sets its first profile's level
        levels = {reps.gentle_reps, *range(reps.start, reps.max + 1, reps.step), reps.max}
        try:
            wanted = float(payload_text(message).strip())
        except ValueError:
            wanted = math.nan
        if not wanted.is_integer() or int(wanted) not in levels:
            log.warning("repetitions: expected one of %s: %s", sorted(levels), describe(message))
        elif routine_id in self.conductor.active:
            log.warning(
                "%s: repetitions are set while the routine is idle: %s", routine_id, describe(message)
            )
        else:
            self.conductor.levels[key(routine_id, first)] = Level(int(wanted), SET_IN_HOME_ASSISTANT)
            log.info("%s: next run %d repetitions (%s)", routine_id, int(wanted), SET_IN_HOME_ASSISTANT)
        # Always the figures as they are now, so Home Assistant's number shows the level in force.
        report(self.conductor.house, room, first, self.conductor.levels[key(routine_id, first)])

    def _routine(self, message: aiomqtt.Message, from_end: int) -> str | None:
        routine_id = message.topic.value.split("/")[-from_end]
        if routine_id not in self.conductor.rooms:
            log.warning("unknown routine %r: %s", routine_id, describe(message))
            return None
        return routine_id
