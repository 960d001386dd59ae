"""Wires settings to devices, triggers and the conductor, and owns every long-running task."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from homeflow.clock import LoopClock
from homeflow.conductor import Conductor, Room
from homeflow.devices.base import Light, Speaker
from homeflow.devices.lights.zigbee2mqtt import Zigbee2MqttLight
from homeflow.devices.speakers.local import LocalSpeakerDevice
from homeflow.journal import Journal
from homeflow.mqtt import MqttConnection
from homeflow.settings.model import Settings
from homeflow.speech import SpeechCache
from homeflow.triggers.buttons import Zigbee2MqttButtonTrigger

log = logging.getLogger(__name__)


def build_speakers(settings: Settings) -> dict[str, Speaker]:
    cache = SpeechCache(settings.cache_dir)
    return {name: LocalSpeakerDevice(spec, cache) for name, spec in settings.speakers.items()}


def build_lights(settings: Settings, mqtt: MqttConnection) -> dict[str, Light]:
    base = settings.zigbee2mqtt.base_topic
    return {
        name: Zigbee2MqttLight(name, spec.friendly_name, mqtt, base) for name, spec in settings.lights.items()
    }


def build_rooms(
    settings: Settings, lights: Mapping[str, Light], speakers: Mapping[str, Speaker]
) -> dict[str, Room]:
    """Every routine gets a room (it can be started over MQTT); automations add devices and buttons."""
    rooms = {routine_id: Room(routine) for routine_id, routine in settings.routines.items()}
    for automation in settings.automations:
        room = rooms[automation.routine]
        room.lights += [lights[n] for n in automation.lights if n in lights and lights[n] not in room.lights]
        room.speakers += [
            speakers[n] for n in automation.speakers if n in speakers and speakers[n] not in room.speakers
        ]
        room.buttons += [t.button for t in automation.when if t.button not in room.buttons]
    return rooms


async def serve(settings: Settings, stop: asyncio.Event, *, time_scale: float = 1.0) -> None:
    """Run until `stop` is set; then end active runs (restoring their lights) and say `offline`."""
    with Journal(settings.journal) as journal:
        mqtt = MqttConnection(settings.mqtt)
        lights = build_lights(settings, mqtt)
        rooms = build_rooms(settings, lights, build_speakers(settings))
        conductor = Conductor(
            rooms,
            journal=journal,
            mqtt=mqtt,
            clock=LoopClock(time_scale),
            base_topic=settings.mqtt.base_topic,
            time_scale=time_scale,
        )
        for button in settings.buttons.values():
            Zigbee2MqttButtonTrigger(button, mqtt, settings.zigbee2mqtt.base_topic, conductor.on_gesture)

        async with asyncio.TaskGroup() as tasks:
            conductor.attach(tasks)
            connection = tasks.create_task(mqtt.run(), name="mqtt")
            first_connect = tasks.create_task(mqtt.connected.wait())
            stopping = tasks.create_task(stop.wait())
            await asyncio.wait((first_connect, stopping), return_when=asyncio.FIRST_COMPLETED)
            first_connect.cancel()
            if not stop.is_set():
                await conductor.recover(lights)
                log.info("homeflow ready: %d routine(s), time scale %g", len(rooms), time_scale)
            await stopping
            log.info("stopping")
            await conductor.stop()
            await mqtt.close()
            connection.cancel()
