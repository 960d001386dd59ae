"""Home Assistant's documented MQTT discovery schemas, as far as homeflow uses them, as a checker.

From HA's MQTT integration (components/mqtt: schemas.py `MQTT_ENTITY_COMMON_SCHEMA`, button.py, sensor.py,
binary_sensor.py, event.py, switch.py, number.py `validate_config`, device_trigger.py
`TRIGGER_DISCOVERY_SCHEMA`) and the discovery docs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DISCOVERY_TOPIC = re.compile(
    r"(?P<prefix>.+)/(?P<component>[a-z_]+)/(?P<node_id>[a-zA-Z0-9_-]+)/(?P<object_id>[a-zA-Z0-9_-]+)/config"
)

AVAILABILITY = {
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "payload_available",
    "payload_not_available",
}
ENTITY_COMMON = AVAILABILITY | {
    "device",
    "origin",
    "enabled_by_default",
    "entity_category",
    "entity_picture",
    "icon",
    "json_attributes_topic",
    "json_attributes_template",
    "default_entity_id",
    "object_id",
    "unique_id",
    "name",
    "qos",
    "encoding",
}
DEVICE_KEYS = {
    "identifiers",
    "connections",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "hw_version",
    "serial_number",
    "sw_version",
    "via_device",
    "suggested_area",
    "configuration_url",
}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
# schemas.py MQTT_AVAILABILITY_LIST_SCHEMA: each item of `availability`, and how they combine.
AVAILABILITY_ITEM_REQUIRED = {"topic"}
AVAILABILITY_ITEM_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
AVAILABILITY_MODES = {"all", "any", "latest"}
TEMPLATE_KEYS = ("value_template", "json_attributes_template", "availability_template", "command_template")
SUBSCRIBE_TOPICS = ("state_topic", "json_attributes_topic", "availability_topic", "topic")
PUBLISH_TOPICS = ("command_topic",)

SENSOR_STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
# The sensor device classes homeflow might plausibly use; HA knows many more (power, energy, ...).
SENSOR_DEVICE_CLASSES = {"timestamp", "enum", "duration", "date"}


@dataclass(frozen=True)
class Schema:
    required: frozenset[str]
    optional: frozenset[str]
    entity: bool = True  # an entity (common keys, unique_id) rather than a device trigger
    device_classes: frozenset[str] = frozenset()


SCHEMAS = {
    "button": Schema(
        frozenset({"command_topic"}),
        frozenset({"payload_press", "command_template", "device_class", "retain"}),
        device_classes=frozenset({"identify", "restart", "update"}),
    ),
    "sensor": Schema(
        frozenset({"state_topic"}),
        frozenset(
            {
                "value_template",
                "device_class",
                "state_class",
                "unit_of_measurement",
                "expire_after",
                "force_update",
                "options",
                "suggested_display_precision",
                "last_reset_value_template",
            }
        ),
        device_classes=frozenset(SENSOR_DEVICE_CLASSES),
    ),
    "binary_sensor": Schema(
        frozenset({"state_topic"}),
        frozenset(
            {"value_template", "payload_on", "payload_off", "device_class", "expire_after", "force_update"}
        ),
        device_classes=frozenset({"connectivity", "problem", "running"}),
    ),
    "event": Schema(
        frozenset({"state_topic", "event_types"}),
        frozenset({"value_template", "device_class"}),
        device_classes=frozenset({"button", "doorbell", "motion"}),
    ),
    "switch": Schema(
        frozenset({"command_topic"}),
        frozenset(
            {
                "state_topic",
                "value_template",
                "command_template",
                "payload_on",
                "payload_off",
                "state_on",
                "state_off",
                "optimistic",
                "retain",
                "device_class",
            }
        ),
        device_classes=frozenset({"outlet", "switch"}),
    ),
    "number": Schema(
        frozenset({"command_topic"}),
        frozenset(
            {
                "state_topic",
                "value_template",
                "command_template",
                "min",
                "max",
                "step",
                "mode",
                "optimistic",
                "retain",
                "payload_reset",
                "unit_of_measurement",
                "device_class",
            }
        ),
    ),
    "device_automation": Schema(
        frozenset({"automation_type", "device", "subtype", "topic", "type"}),
        frozenset({"payload", "qos", "value_template", "origin", "encoding"}),
        entity=False,
    ),
}


def _valid_topic(topic: Any, *, wildcards: bool) -> bool:
    if not isinstance(topic, str) or not topic or "\0" in topic:
        return False
    if not wildcards:
        return "+" not in topic and "#" not in topic
    levels = topic.split("/")
    return (
        all(level in ("+", "#") or ("+" not in level and "#" not in level) for level in levels)
        and "#" not in levels[:-1]
    )


def problems_of(topic: str, config: Any) -> list[str]:
    """What Home Assistant would reject or mishandle in one discovery message; [] when it is valid."""
    match = DISCOVERY_TOPIC.fullmatch(topic)
    if match is None:
        return [f"{topic}: not a discovery topic <prefix>/<component>/<node_id>/<object_id>/config"]
    component = match["component"]
    schema = SCHEMAS.get(component)
    if schema is None:
        return [f"{topic}: component {component} is not checked here"]
    if not isinstance(config, dict):
        return [f"{topic}: payload is not a JSON object"]
    found: list[str] = []
    allowed = schema.required | schema.optional | (ENTITY_COMMON if schema.entity else set())
    found += [f"{topic}: missing required key {key}" for key in sorted(schema.required - config.keys())]
    found += [f"{topic}: unknown key {key}" for key in sorted(config.keys() - allowed)]
    device = config.get("device")
    if device is not None or not schema.entity:
        if not isinstance(device, dict):
            found.append(f"{topic}: device is not an object")
        else:
            found += [f"{topic}: unknown device key {key}" for key in sorted(device.keys() - DEVICE_KEYS)]
            ids = device.get("identifiers")
            if not (isinstance(ids, list) and ids and all(isinstance(i, str) and i for i in ids)):
                found.append(f"{topic}: device.identifiers must be a non-empty list of strings")
    origin = config.get("origin")
    if origin is not None and (
        not isinstance(origin, dict) or "name" not in origin or origin.keys() - ORIGIN_KEYS
    ):
        found.append(f"{topic}: origin needs a name and only {sorted(ORIGIN_KEYS)}")
    if schema.entity and not isinstance(config.get("unique_id"), str):
        found.append(f"{topic}: an entity needs a unique_id to be editable in Home Assistant")
    for key in SUBSCRIBE_TOPICS:
        if key in config and not _valid_topic(config[key], wildcards=True):
            found.append(f"{topic}: {key} is not a valid topic: {config[key]!r}")
    for key in PUBLISH_TOPICS:
        if key in config and not _valid_topic(config[key], wildcards=False):
            found.append(f"{topic}: {key} is not a valid publish topic: {config[key]!r}")
    for key in TEMPLATE_KEYS:
        if key in config and not isinstance(config[key], str):
            found.append(f"{topic}: {key} is not a template string")
    device_class = config.get("device_class")
    if device_class is not None and device_class not in schema.device_classes:
        found.append(f"{topic}: device_class {device_class!r} is not one of {sorted(schema.device_classes)}")
    if "icon" in config and not re.fullmatch(r"mdi:[a-z0-9-]+", str(config["icon"])):
        found.append(f"{topic}: icon must look like mdi:name")
    found += _availability_problems(topic, config)
    if config.get("entity_category", "config") not in ("config", "diagnostic"):
        found.append(f"{topic}: entity_category must be config or diagnostic")
    if "qos" in config and config["qos"] not in (0, 1, 2):
        found.append(f"{topic}: qos must be 0, 1 or 2")
    if component == "sensor":
        found += _sensor_problems(topic, config)
    if component == "number":
        found += _number_problems(topic, config)
    if component == "event":
        types = config.get("event_types")
        if not (isinstance(types, list) and types and all(isinstance(t, str) for t in types)):
            found.append(f"{topic}: event_types must be a non-empty list of strings")
    if component == "device_automation":
        if config.get("automation_type") != "trigger":
            found.append(f"{topic}: automation_type must be trigger")
        found += [
            f"{topic}: {key} must be a string"
            for key in ("type", "subtype", "payload")
            if key in config and not isinstance(config[key], str)
        ]
    return found


def _availability_problems(topic: str, config: dict[str, Any]) -> list[str]:
    """`availability_topic` and `availability` are exclusive (vol.Exclusive); each item of the list needs a
    valid topic and takes only strings and a template; `availability_mode` is all, any or latest."""
    found: list[str] = []
    if "availability_topic" in config and "availability" in config:
        found.append(f"{topic}: availability_topic and availability cannot both be given")
    if "availability" in config:
        items = config["availability"]
        items = items if isinstance(items, list) else [items]  # cv.ensure_list
        for i, item in enumerate(items):
            where = f"{topic}: availability[{i}]"
            if not isinstance(item, dict):
                found.append(f"{where} is not an object")
                continue
            found += [
                f"{where}: missing required key {key}"
                for key in sorted(AVAILABILITY_ITEM_REQUIRED - item.keys())
            ]
            found += [f"{where}: unknown key {key}" for key in sorted(item.keys() - AVAILABILITY_ITEM_KEYS)]
            if "topic" in item and not _valid_topic(item["topic"], wildcards=True):
                found.append(f"{where}: topic is not a valid topic: {item['topic']!r}")
            found += [
                f"{where}: {key} is not a string"
                for key in ("payload_available", "payload_not_available", "value_template")
                if key in item and not isinstance(item[key], str)
            ]
    if config.get("availability_mode", "latest") not in AVAILABILITY_MODES:
        found.append(f"{topic}: availability_mode must be one of {sorted(AVAILABILITY_MODES)}")
    return found


def _sensor_problems(topic: str, config: dict[str, Any]) -> list[str]:
    """sensor.py `validate_sensor_state_and_device_class_config` and friends."""
    found: list[str] = []
    device_class = config.get("device_class")
    state_class = config.get("state_class")
    if state_class is not None and state_class not in SENSOR_STATE_CLASSES:
        found.append(f"{topic}: unknown state_class {state_class!r}")
    if "options" in config:
        options = config["options"]
        if device_class != "enum":
            found.append(f"{topic}: options need device_class enum")
        if not (isinstance(options, list) and options and all(isinstance(o, str) for o in options)):
            found.append(f"{topic}: options must be a non-empty list of strings")
    if device_class == "enum" and "options" not in config:
        found.append(f"{topic}: device_class enum needs options")
    if device_class in ("enum", "timestamp", "date") and (state_class or "unit_of_measurement" in config):
        found.append(f"{topic}: device_class {device_class} takes no state_class or unit_of_measurement")
    return found


def _number_problems(topic: str, config: dict[str, Any]) -> list[str]:
    """number.py: `min`, `max` and `step` are numbers (defaults 1, 100, 1), `max` above `min`, `step` at
    least 0.001, `mode` auto, box or slider."""
    found: list[str] = []
    values = {key: config.get(key, default) for key, default in (("min", 1), ("max", 100), ("step", 1))}
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values.values()):
        return [f"{topic}: min, max and step must be numbers"]
    if values["max"] <= values["min"]:
        found.append(f"{topic}: 'max' must be > 'min'")
    if values["step"] < 0.001:
        found.append(f"{topic}: step must be at least 0.001")
    if config.get("mode", "auto") not in ("auto", "box", "slider"):
        found.append(f"{topic}: mode must be auto, box or slider")
    return found
