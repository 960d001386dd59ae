"""Home Assistant MQTT discovery: each routine is a device with buttons, sensors, an event and triggers.

Configs are retained on `<prefix>/<component>/<node_id>/<object_id>/config`, where `node_id` comes from
homeflow's base topic, so two homeflow instances on one broker never share an entity.

Removal needs to know what was published before. The broker already keeps that record: homeflow
subscribes to its own `<prefix>/+/<node_id>/+/config`, and a *retained* config arriving there that the
current settings do not define (a routine since deleted, an entity a newer homeflow dropped) is
cleared with an empty retained payload, which is Home Assistant's signal to remove the entity. No index
topic or local file can drift out of step with the broker, and it works after a reinstall too. Our own
publishes come back to us live (not retained), so they never look like leftovers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

import aiomqtt

from homeflow import __version__
from homeflow.mqtt import OFFLINE, ONLINE, MqttConnection, describe, payload_text
from homeflow.routine.model import Routine
from homeflow.settings.model import HomeAssistantSettings
from homeflow.status import RoutineState, RunEvent

log = logging.getLogger(__name__)

# Every value `<base>/<routine>/state` can carry in its `state` field; Home Assistant rejects an enum
# sensor's state that is not listed.
STATES = tuple(str(s) for s in RoutineState)
EVENT_TYPES = tuple(str(e) for e in RunEvent)
DEVICE_TRIGGERS = (str(RunEvent.COMPLETED), str(RunEvent.CANCELLED))
BUTTONS = (
    ("start", "Start", "mdi:play"),
    ("pause", "Pause", "mdi:pause"),
    ("resume", "Resume", "mdi:play-pause"),
    ("skip", "Skip step", "mdi:skip-next"),
    ("cancel", "Cancel", "mdi:stop"),
)
# The answers to the end-of-run question: buttons available only while it is open.
ANSWER_BUTTONS = (
    ("good", "Felt good", "mdi:emoticon-happy-outline"),
    ("too_much", "Too much", "mdi:emoticon-neutral-outline"),
    ("hurt", "It hurt", "mdi:bandage"),
)
ASKING_TEMPLATE = f"{{{{ 'online' if value_json.state == '{RoutineState.ASKING}' else 'offline' }}}}"
# Idle state payloads carry no `steps`, `reps` or `ends_at`: `.get` renders those as null, not an error.
STEP_ATTRIBUTES = (
    "{{ {'index': value_json.step_index, 'steps': value_json.get('steps'), "
    "'reps': value_json.get('reps'), 'ends_at': value_json.get('ends_at')} | tojson }}"
)
# Home Assistant's event entity wants `event_type`; homeflow's event payload names it `event`.
EVENT_TEMPLATE = (
    "{{ {'event_type': value_json.event, 'run_id': value_json.run_id, "
    "'trigger': value_json.trigger, 'at': value_json.at} | tojson }}"
)
# Requests within this long are one republish.
COALESCE_S = 0.1
# Below aiomqtt's threshold of 10 pending publishes, above which it logs a warning per publish.
PUBLISH_BATCH = 8
_NOT_IN_NODE_ID = re.compile(r"[^a-zA-Z0-9_-]")

Config = dict[str, Any]


def node_id(base_topic: str) -> str:
    """The discovery topic level naming this homeflow: its base topic, in the characters HA allows."""
    return _NOT_IN_NODE_ID.sub("_", base_topic)


def discovery_configs(prefix: str, base_topic: str, routines: Mapping[str, Routine]) -> dict[str, Config]:
    """Every config topic this homeflow owns, with its payload."""
    node = node_id(base_topic)
    status = f"{base_topic}/status"
    origin = {"name": "homeflow", "sw_version": __version__}
    hub = {
        "identifiers": [node],
        "name": "homeflow",
        "manufacturer": "homeflow",
        "model": "homeflow service",
        "sw_version": __version__,
    }
    configs: dict[str, Config] = {
        f"{prefix}/binary_sensor/{node}/status/config": {
            "name": "Status",
            "unique_id": f"{node}_status",
            "state_topic": status,
            "payload_on": ONLINE,
            "payload_off": OFFLINE,
            "device_class": "connectivity",
            "entity_category": "diagnostic",
            "device": hub,
            "origin": origin,
        }
    }
    for routine_id, routine in routines.items():
        topics = {part: f"{base_topic}/{routine_id}/{part}" for part in ("set", "state", "stats", "event")}
        device = {
            "identifiers": [f"{node}_{routine_id}"],
            "name": f"homeflow {routine.name}",
            "manufacturer": "homeflow",
            "model": "Guided routine",
            "sw_version": __version__,
            "via_device": node,
        }
        common = {"device": device, "origin": origin}
        # Answer buttons: while homeflow is online and the routine's question is open (both at once).
        while_asking = {
            "availability": [
                {"topic": status},
                {"topic": topics["state"], "value_template": ASKING_TEMPLATE},
            ],
            "availability_mode": "all",
        }
        entities: list[tuple[str, str, Config]] = [
            (
                "button",
                command,
                {
                    "name": name,
                    "command_topic": topics["set"],
                    "payload_press": command,
                    "qos": 1,
                    "icon": icon,
                },
            )
            for command, name, icon in BUTTONS
        ]
        entities += [
            (
                "button",
                answer,
                {
                    "name": name,
                    "command_topic": topics["set"],
                    "payload_press": answer,
                    "qos": 1,
                    "icon": icon,
                    **while_asking,
                },
            )
            for answer, name, icon in ANSWER_BUTTONS
        ]
        entities += [
            (
                "sensor",
                "state",
                {
                    "name": "State",
                    "state_topic": topics["state"],
                    "value_template": "{{ value_json.state }}",
                    "device_class": "enum",
                    "options": list(STATES),
                    "icon": "mdi:run",
                },
            ),
            (
                "sensor",
                "step",
                {
                    "name": "Current step",
                    "state_topic": topics["state"],
                    "value_template": "{{ value_json.step }}",
                    "json_attributes_topic": topics["state"],
                    "json_attributes_template": STEP_ATTRIBUTES,
                    "icon": "mdi:format-list-numbered",
                },
            ),
            (
                "sensor",
                "progress",
                {
                    "name": "Progress",
                    "state_topic": topics["state"],
                    "value_template": "{{ value_json.progress | default(0) }}",
                    "unit_of_measurement": "%",
                    "state_class": "measurement",
                    "icon": "mdi:progress-clock",
                },
            ),
            (
                "sensor",
                "last_completed",
                {
                    "name": "Last completed",
                    "state_topic": topics["stats"],
                    # null renders as "None", which Home Assistant shows as unknown.
                    "value_template": "{{ value_json.last_completed }}",
                    "device_class": "timestamp",
                },
            ),
            (
                "sensor",
                "streak",
                {
                    "name": "Streak",
                    "state_topic": topics["stats"],
                    "value_template": "{{ value_json.streak_days }}",
                    "unit_of_measurement": "days",
                    "state_class": "measurement",
                    "icon": "mdi:fire",
                },
            ),
            (
                "sensor",
                "reps",
                {
                    "name": "Repetitions",
                    "state_topic": topics["stats"],
                    "value_template": "{{ value_json.reps_level }}",
                    "json_attributes_topic": topics["stats"],
                    "json_attributes_template": "{{ {'reason': value_json.reps_reason} | tojson }}",
                    "state_class": "measurement",
                    "icon": "mdi:counter",
                },
            ),
            (
                "event",
                "run",
                {
                    "name": "Run",
                    "state_topic": topics["event"],
                    "event_types": list(EVENT_TYPES),
                    "value_template": EVENT_TEMPLATE,
                    "icon": "mdi:bell-ring",
                },
            ),
        ]
        for component, key, config in entities:
            object_id = f"{routine_id}_{key}"
            available = {} if "availability" in config else {"availability_topic": status}
            configs[f"{prefix}/{component}/{node}/{object_id}/config"] = {
                **config,
                "unique_id": f"{node}_{object_id}",
                **available,
                **common,
            }
        for event in DEVICE_TRIGGERS:
            # Device triggers have no unique_id or availability: Home Assistant keys them by topic.
            configs[f"{prefix}/device_automation/{node}/{routine_id}_{event}/config"] = {
                "automation_type": "trigger",
                "type": event,
                "subtype": routine.name,
                "topic": topics["event"],
                "value_template": "{{ value_json.event }}",
                "payload": event,
                "device": device,
                "origin": origin,
            }
    return configs


class Discovery:
    """Keeps Home Assistant's picture of homeflow right: configs on every connect and every HA start,
    leftovers removed. With `discovery: false` it publishes nothing and removes what it published."""

    def __init__(
        self,
        settings: HomeAssistantSettings,
        mqtt: MqttConnection,
        base_topic: str,
        routines: Mapping[str, Routine],
    ) -> None:
        self.mqtt = mqtt
        self.enabled = settings.discovery
        self.prefix = settings.discovery_prefix
        self.node = node_id(base_topic)
        self.configs = discovery_configs(self.prefix, base_topic, routines) if settings.discovery else {}
        self._wanted = asyncio.Event()
        self._republish = False
        self._stale: set[str] = set()  # retained configs of entities the settings no longer have

    def listen(self) -> None:
        """Publish on every connect, again when Home Assistant starts, and clear leftovers (all sent
        by `run`, so no message handler ever waits for the broker)."""
        if self.enabled:
            self.mqtt.route(f"{self.prefix}/status", self._on_home_assistant_status)
        self.mqtt.route(f"{self.prefix}/+/{self.node}/+/config", self._on_config)
        self.mqtt.on_connect(self._on_connect)

    async def run(self) -> None:
        """Send what was asked for, until cancelled. A burst of requests (Home Assistant's `online`
        repeated, by a restart loop or by anyone on the broker) becomes one republish."""
        while True:
            await self._wanted.wait()
            await asyncio.sleep(COALESCE_S)
            self._wanted.clear()
            stale, self._stale = self._stale, set()
            for topic in sorted(stale):
                await self.mqtt.publish(topic, "", retain=True)
            if self._republish:
                self._republish = False
                await self.publish_all()

    async def publish_all(self) -> None:
        # A few at a time: one by one, each QoS 1 publish waits a round trip for its acknowledgement
        # (tens of milliseconds with delayed ACKs); all at once, aiomqtt warns about pending calls.
        items = list(self.configs.items())
        for start in range(0, len(items), PUBLISH_BATCH):
            batch = items[start : start + PUBLISH_BATCH]
            await asyncio.gather(*(self.mqtt.publish(topic, config, retain=True) for topic, config in batch))

    def _ask_republish(self) -> None:
        self._republish = True
        self._wanted.set()

    async def _on_connect(self) -> None:
        self._ask_republish()

    async def _on_home_assistant_status(self, message: aiomqtt.Message) -> None:
        status = payload_text(message).strip()
        if status == ONLINE:
            # Home Assistant (re)started; a broker without persistence may have lost our configs.
            if not self._republish:
                log.info("Home Assistant is online: publishing %d discovery configs", len(self.configs))
            self._ask_republish()
        elif status != OFFLINE:
            log.warning("Home Assistant status is neither online nor offline: %s", describe(message))

    async def _on_config(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        if not message.retain or not message.payload or topic in self.configs:
            return
        if topic not in self._stale:
            log.info("removing Home Assistant entity %s: no longer in the settings", topic)
        self._stale.add(topic)
        self._wanted.set()
