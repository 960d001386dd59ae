"""What Home Assistant is told: each routine as a device with buttons, controls, sensors, an event and
device triggers, linked to a hub device, as MQTT discovery configs.

Home Assistant's own buttons publish on `<base>/<routine>/home_assistant/set`, so a run they start reads
`home_assistant` as its trigger; `<base>/<routine>/set` stays the topic for every other MQTT client.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from homeflow import __version__
from homeflow.homeassistant.profiles import profile_entities
from homeflow.language.entity_names import EntityNames, entity_names
from homeflow.mqtt import OFFLINE, ONLINE
from homeflow.routine.model import Routine
from homeflow.settings.http import is_loopback
from homeflow.settings.model import Cluster, HttpSettings
from homeflow.status import RoutineState, RunEvent

# Every value `<base>/<routine>/state` can carry in its `state` field; Home Assistant rejects an enum
# sensor's state that is not listed.
STATES = tuple(str(s) for s in RoutineState)
EVENT_TYPES = tuple(str(e) for e in RunEvent)
DEVICE_TRIGGERS = EVENT_TYPES
# The topic level of Home Assistant's own commands: `<base>/<routine>/home_assistant/set`.
HOME_ASSISTANT = "home_assistant"
# Each entity's name is in the routine's language (homeflow.language.entity_names).
BUTTONS = (
    ("start", "mdi:play"),
    ("pause", "mdi:pause"),
    ("resume", "mdi:play-pause"),
    ("skip", "mdi:skip-next"),
    ("cancel", "mdi:stop"),
)
# The answers to the end-of-run question: buttons available only while it is open.
ANSWER_BUTTONS = (
    ("good", "mdi:emoticon-happy-outline"),
    ("too_much", "mdi:emoticon-neutral-outline"),
    ("hurt", "mdi:bandage"),
)
ASKING_TEMPLATE = f"{{{{ 'online' if value_json.state == '{RoutineState.ASKING}' else 'offline' }}}}"
# Idle state payloads carry no `steps`, `reps` or `ends_at`: `.get` renders those as null, not an error.
STEP_ATTRIBUTES = (
    "{{ {'index': value_json.step_index, 'steps': value_json.get('steps'), "
    "'reps': value_json.get('reps'), 'ends_at': value_json.get('ends_at')} | tojson }}"
)
# Home Assistant's event entity wants `event_type`; homeflow's event payload names it `event`. An
# `answered` event carries the answer (null: none) and the next run's level.
EVENT_TEMPLATE = (
    "{{ {'event_type': value_json.event, 'run_id': value_json.get('run_id'), "
    "'trigger': value_json.trigger, 'reason': value_json.get('reason'), "
    "'feedback': value_json.get('feedback'), 'reps_level': value_json.get('reps_level'), "
    "'reps_reason': value_json.get('reps_reason'), 'profile': value_json.get('profile'), "
    "'at': value_json.at} | tojson }}"
)
# A sensor's state holds at most 255 characters.
REFUSED_TEMPLATE = "{{ value_json.reason[:255] }}"
REFUSED_ATTRIBUTES = "{{ {'trigger': value_json.trigger, 'at': value_json.at} | tojson }}"
SWITCH_ON, SWITCH_OFF = "ON", "OFF"
_NOT_IN_NODE_ID = re.compile(r"[^a-zA-Z0-9_-]")

Config = dict[str, Any]


def node_id(base_topic: str) -> str:
    """The discovery topic level naming this homeflow: its base topic, in the characters HA allows."""
    return _NOT_IN_NODE_ID.sub("_", base_topic)


def dashboard_url(http: HttpSettings) -> str | None:
    """Where Home Assistant's "Visit" link on each device leads: the add-on's panel, `http.public_url`,
    else the address homeflow listens on when other machines can reach it by that address. None when it
    listens on loopback only (Home Assistant on another machine could not open it), on every address
    (no single address to name), or on a port picked at start."""
    if http.panel_url:
        return http.panel_url
    if http.public_url:
        return http.public_url
    if is_loopback(http.bind) or http.port == 0:
        return None
    try:
        address = ipaddress.ip_address(http.bind)
    except ValueError:
        return f"http://{http.bind}:{http.port}"  # a host name
    if address.is_unspecified:
        return None
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{host}:{http.port}"


def discovery_configs(
    prefix: str,
    base_topic: str,
    routines: Mapping[str, Routine],
    *,
    url: str | None = None,
    area: str | None = None,
    areas: Mapping[str, str] | None = None,
    cluster: Cluster | None = None,
    profiles: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Config]:
    """Every config topic this homeflow owns, with its payload. `url`: the dashboard; `area`: where
    Home Assistant places the devices; `profiles`: each routine's, if it has any."""
    by_routine = configs_by_routine(
        prefix, base_topic, routines, url=url, area=area, areas=areas, cluster=cluster, profiles=profiles
    )
    return {topic: config for configs in by_routine.values() for topic, config in configs.items()}


def configs_by_routine(
    prefix: str,
    base_topic: str,
    routines: Mapping[str, Routine],
    *,
    url: str | None = None,
    area: str | None = None,
    areas: Mapping[str, str] | None = None,
    cluster: Cluster | None = None,
    profiles: Mapping[str, Sequence[str]] | None = None,
) -> dict[str | None, dict[str, Config]]:
    """The configs of each routine's device, by routine id, and of the hub's (under None).

    In a cluster the hub has a status per instance, and a routine's entities are available while any
    instance is online (`availability` with mode `any`): whichever instance owns the routine publishes
    the same configs."""
    node = node_id(base_topic)
    statuses = cluster.status_topics(base_topic) if cluster else (f"{base_topic}/status",)
    origin = {"name": "homeflow", "sw_version": __version__}
    where = {
        **({"configuration_url": url} if url else {}),
        **({"suggested_area": area} if area else {}),
    }
    hub = {
        "identifiers": [node],
        "name": "homeflow",
        "manufacturer": "homeflow",
        "model": "homeflow service",
        "sw_version": __version__,
        **where,
    }
    peers = cluster.peers if cluster else ("",)
    hub_configs: dict[str, Config] = {
        f"{prefix}/binary_sensor/{node}/{_suffixed('status', peer)}/config": {
            "name": f"Status {peer}" if peer else "Status",
            "unique_id": f"{node}_{_suffixed('status', peer)}",
            "state_topic": status,
            "payload_on": ONLINE,
            "payload_off": OFFLINE,
            "device_class": "connectivity",
            "entity_category": "diagnostic",
            "device": hub,
            "origin": origin,
        }
        for peer, status in zip(peers, statuses, strict=True)
    }
    configs: dict[str | None, dict[str, Config]] = {None: hub_configs}
    if cluster:
        available: Config = {"availability": [{"topic": t} for t in statuses], "availability_mode": "any"}
    else:
        available = {"availability_topic": statuses[0]}
    for routine_id, routine in routines.items():
        configs[routine_id] = mine = {}
        names = entity_names(routine.language)
        device = {
            "identifiers": [f"{node}_{routine_id}"],
            "name": f"homeflow {routine.name}",
            "manufacturer": "homeflow",
            "model": names.model,
            "sw_version": __version__,
            "via_device": node,
            **where,
            **({"suggested_area": areas[routine_id]} if areas and routine_id in areas else {}),
        }
        topics = {
            part: f"{base_topic}/{routine_id}/{part}"
            for part in ("state", "stats", "event", "refused", "schedules", "schedules/set", "reps/set")
        }
        entities = _entities(routine, names, topics, None if cluster else statuses[0])
        commands = f"{base_topic}/{routine_id}/{HOME_ASSISTANT}/set"
        for profile in (profiles or {}).get(routine_id, ()):
            entities += profile_entities(profile, f"{topics['stats']}/{profile}", commands, names)
        for component, key, config in entities:
            object_id = f"{routine_id}_{key}"
            mine[f"{prefix}/{component}/{node}/{object_id}/config"] = {
                **config,
                "unique_id": f"{node}_{object_id}",
                **({} if "availability" in config else available),
                "device": device,
                "origin": origin,
            }
        for event in DEVICE_TRIGGERS:
            # Device triggers have no unique_id or availability: Home Assistant keys them by topic.
            mine[f"{prefix}/device_automation/{node}/{routine_id}_{event}/config"] = {
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


def _suffixed(name: str, peer: str) -> str:
    return f"{name}_{peer}" if peer else name


def _entities(
    routine: Routine, names: EntityNames, topics: dict[str, str], status: str | None
) -> list[tuple[str, str, Config]]:
    """One routine's entities: (component, key, config without unique_id, device or availability)."""
    commands = f"{topics['state'].removesuffix('/state')}/{HOME_ASSISTANT}/set"
    # Answer buttons: while homeflow is online and the routine's question is open (both at once). In a
    # cluster (no one `status`; Home Assistant cannot mix `any` and `all`) the question alone: the
    # instance that takes a routine over publishes its state anew.
    asking = {"topic": topics["state"], "value_template": ASKING_TEMPLATE}
    while_asking = {
        "availability": [{"topic": status}, asking] if status else [asking],
        "availability_mode": "all",
    }
    button = {"command_topic": commands, "qos": 1}
    entities: list[tuple[str, str, Config]] = [
        ("button", command, {"name": names.name(command), **button, "payload_press": command, "icon": icon})
        for command, icon in BUTTONS
    ]
    entities += [
        (
            "button",
            answer,
            {"name": names.name(answer), **button, "payload_press": answer, "icon": icon, **while_asking},
        )
        for answer, icon in ANSWER_BUTTONS
    ]
    entities.append(
        (
            "switch",
            "schedules",
            {
                "name": names.schedules,
                "command_topic": topics["schedules/set"],
                "state_topic": topics["schedules"],
                "payload_on": SWITCH_ON,
                "payload_off": SWITCH_OFF,
                "qos": 1,
                "entity_category": "config",
                "icon": "mdi:calendar-clock",
            },
        )
    )
    reps = routine.reps
    if reps.max > reps.start:  # Home Assistant wants max above min; with one level there is no choice
        entities.append(
            (
                "number",
                "next_reps",
                {
                    "name": names.next_reps,
                    "command_topic": topics["reps/set"],
                    "state_topic": topics["stats"],
                    "value_template": "{{ value_json.reps_level }}",
                    # From the gentler run's level after "it hurt": a state below `min` Home
                    # Assistant refuses. A step that reaches both it and reps.start.
                    "min": reps.gentle_reps,
                    "max": reps.max,
                    "step": math.gcd(reps.step, reps.start - reps.gentle_reps),
                    "mode": "box",
                    "qos": 1,
                    "entity_category": "config",
                    "icon": "mdi:counter",
                },
            )
        )
    entities += [
        (
            "sensor",
            "state",
            {
                "name": names.state,
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
                "name": names.step,
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
                "name": names.progress,
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
                "name": names.last_completed,
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
                "name": names.streak,
                "state_topic": topics["stats"],
                "value_template": "{{ value_json.streak_days }}",
                "unit_of_measurement": names.days,
                "state_class": "measurement",
                "icon": "mdi:fire",
            },
        ),
        (
            "sensor",
            "reps",
            {
                "name": names.reps,
                "state_topic": topics["stats"],
                "value_template": "{{ value_json.reps_level }}",
                "json_attributes_topic": topics["stats"],
                "json_attributes_template": "{{ {'reason': value_json.reps_reason} | tojson }}",
                "state_class": "measurement",
                "icon": "mdi:counter",
            },
        ),
        (
            "sensor",
            "refused",
            {
                "name": names.refused,
                "state_topic": topics["refused"],
                "value_template": REFUSED_TEMPLATE,
                "json_attributes_topic": topics["refused"],
                "json_attributes_template": REFUSED_ATTRIBUTES,
                "icon": "mdi:cancel",
            },
        ),
        (
            "event",
            "run",
            {
                "name": names.run,
                "state_topic": topics["event"],
                "event_types": list(EVENT_TYPES),
                "value_template": EVENT_TEMPLATE,
                "icon": "mdi:bell-ring",
            },
        ),
    ]
    return entities
