"""Home Assistant's documented MQTT discovery schemas, as far as homeflow uses them, as a checker; and below,
the keys Home Assistant 2025.4 takes in the automations and blueprint homeflow ships.

From HA's MQTT integration (components/mqtt: schemas.py `MQTT_ENTITY_COMMON_SCHEMA`, button.py, sensor.py,
binary_sensor.py, event.py, switch.py, number.py `validate_config`, device_trigger.py
`TRIGGER_DISCOVERY_SCHEMA`) and the discovery docs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

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


# Automations and blueprints, as the oldest Home Assistant homeflow supports validates them.
#
# The key lists are those of homeassistant 2025.4.4 (the PyPI release; ../shared/ha runs it):
# components/automation/config.py `PLATFORM_SCHEMA`; helpers/script.py `make_script_schema`;
# helpers/config_validation.py `TRIGGER_BASE_SCHEMA`, `_trigger_pre_validator` (`trigger:` is read as
# `platform:`), `CONDITION_BASE_SCHEMA`, `TIME_CONDITION_SCHEMA`, `NUMERIC_STATE_CONDITION_SCHEMA`,
# `STATE_CONDITION_*_SCHEMA`, `SCRIPT_ACTION_BASE_SCHEMA`, `SERVICE_SCHEMA`, `weekdays`;
# components/homeassistant/triggers/time.py and numeric_state.py `TRIGGER_SCHEMA`; components/mqtt/trigger.py
# `TRIGGER_SCHEMA` and __init__.py `MQTT_PUBLISH_SCHEMA`; components/blueprint/schemas.py `BLUEPRINT_SCHEMA`,
# `BLUEPRINT_INPUT_SCHEMA`; helpers/selector.py. Home Assistant rejects any other key ("extra keys not
# allowed"); keys later releases added (`weekday` on the time trigger came in 2025.8) are such keys here.
# Only the trigger, condition and action kinds the examples use are listed: an example using another
# kind is reported, so that its keys are looked up in the 2025.4 source and added.

OLDEST_HOME_ASSISTANT = "2025.4.0"


class Input(str):
    """A blueprint's `!input NAME`: a value Home Assistant fills in, not checked here."""


class HomeAssistantLoader(yaml.SafeLoader):
    """Reads Home Assistant YAML: blueprints use the `!input` tag, settings `!secret`."""


HomeAssistantLoader.add_constructor(
    "!input",
    lambda loader, node: Input(loader.construct_scalar(node)),  # type: ignore[arg-type]
)


@dataclass(frozen=True)
class Keys:
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    one_of: frozenset[str] = frozenset()  # cv.has_at_least_one_key


AUTOMATION_KEYS = Keys(
    frozenset({"triggers", "actions"}),
    frozenset(
        {
            "id",
            "alias",
            "description",
            "trace",
            "initial_state",
            "conditions",
            "variables",
            "trigger_variables",
            "mode",
            "max",
            "max_exceeded",
        }
    ),
)
# Renamed in 2024.10; 2025.4 still reads them, the examples use the current spelling.
OLD_SPELLINGS = {"trigger": "triggers", "condition": "conditions", "action": "actions"}
SCRIPT_MODES = {"single", "restart", "queued", "parallel"}
MAX_EXCEEDED = {"CRITICAL", "FATAL", "ERROR", "WARNING", "WARN", "INFO", "DEBUG", "NOTSET", "SILENT"}

TRIGGER_BASE = frozenset({"trigger", "id", "alias", "variables", "enabled"})
TRIGGERS = {
    "time": Keys(frozenset({"at"})),
    "mqtt": Keys(frozenset({"topic"}), frozenset({"payload", "value_template", "encoding", "qos"})),
    "numeric_state": Keys(
        frozenset({"entity_id"}),
        frozenset({"below", "above", "value_template", "for", "attribute"}),
        frozenset({"below", "above"}),
    ),
}
CONDITION_BASE = frozenset({"condition", "alias", "enabled"})
CONDITIONS = {
    "time": Keys(
        optional=frozenset({"before", "after", "weekday"}), one_of=frozenset({"before", "after", "weekday"})
    ),
    "numeric_state": Keys(
        frozenset({"entity_id"}),
        frozenset({"attribute", "below", "above", "value_template"}),
        frozenset({"below", "above"}),
    ),
    "state": Keys(frozenset({"entity_id", "state"}), frozenset({"match", "attribute", "for"})),
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}(:\d{2})?")
TIME_ENTITY = re.compile(r"(input_datetime|sensor)\.[a-z0-9_]+")
# A service call (the only kind of action the examples use), and the data of the actions they call.
ACTION_KEYS = Keys(
    frozenset({"action"}),
    frozenset({"alias", "continue_on_error", "enabled", "data", "target", "response_variable"}),
)
ACTION_DATA = {
    "mqtt.publish": Keys(frozenset({"topic"}), frozenset({"payload", "evaluate_payload", "qos", "retain"})),
    "button.press": Keys(),
    "notify.notify": Keys(frozenset({"message"}), frozenset({"title", "target", "data"})),
}
TARGET_KEYS = frozenset({"entity_id", "device_id", "area_id", "floor_id", "label_id"})

BLUEPRINT_KEYS = Keys(
    frozenset({"name", "domain"}),
    frozenset({"description", "source_url", "author", "homeassistant", "input"}),
)
BLUEPRINT_INPUT_KEYS = frozenset({"name", "description", "default", "selector"})
SELECTORS = {
    "trigger": frozenset(),
    "text": frozenset({"multiline", "prefix", "suffix", "type", "autocomplete", "multiple"}),
    "select": frozenset({"options", "multiple", "custom_value", "mode", "translation_key", "sort"}),
}


def _key_problems(where: str, config: Any, keys: Keys, base: frozenset[str] = frozenset()) -> list[str]:
    if not isinstance(config, dict):
        return [f"{where}: not a mapping"]
    found = [f"{where}: missing required key {key}" for key in sorted(keys.required - config.keys())]
    found += [
        f"{where}: extra key {key} (Home Assistant {OLDEST_HOME_ASSISTANT} rejects it)"
        for key in sorted(config.keys() - keys.required - keys.optional - base)
    ]
    if keys.one_of and not keys.one_of & config.keys():
        found.append(f"{where}: needs at least one of {sorted(keys.one_of)}")
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def trigger_problems(where: str, trigger: Any) -> list[str]:
    if not isinstance(trigger, dict):
        return [f"{where}: not a mapping"]
    if "platform" in trigger:
        return [f"{where}: platform is spelled trigger since Home Assistant 2024.10"]
    kind = trigger.get("trigger")
    if kind not in TRIGGERS:
        return [f"{where}: {kind!r} triggers are not checked here: add their 2025.4 keys to TRIGGERS"]
    where = f"{where} ({kind})"
    found = _key_problems(where, trigger, TRIGGERS[kind], TRIGGER_BASE)
    if kind == "time":
        for at in _as_list(trigger.get("at")):
            if isinstance(at, Input):
                continue
            if not (isinstance(at, str) and (TIME_OF_DAY.fullmatch(at) or TIME_ENTITY.fullmatch(at))):
                found.append(f"{where}: at {at!r} is no HH:MM[:SS] or input_datetime/sensor entity")
    if kind == "mqtt" and trigger.get("qos", 0) not in (0, 1, 2):
        found.append(f"{where}: qos must be 0, 1 or 2")
    return found


def condition_problems(where: str, condition: Any) -> list[str]:
    if not isinstance(condition, dict):
        return [f"{where}: not a mapping"]
    kind = condition.get("condition")
    if kind not in CONDITIONS:
        return [f"{where}: {kind!r} conditions are not checked here: add their 2025.4 keys to CONDITIONS"]
    where = f"{where} ({kind})"
    found = _key_problems(where, condition, CONDITIONS[kind], CONDITION_BASE)
    if kind == "time":
        days = condition.get("weekday", [])
        if not all(day in WEEKDAYS for day in _as_list(days)):
            found.append(f"{where}: weekday takes {', '.join(WEEKDAYS)}, got {days!r}")
        for key in ("before", "after"):
            value = condition.get(key)
            if value is not None and not (
                isinstance(value, str) and (TIME_OF_DAY.fullmatch(value) or "." in value)
            ):
                found.append(f"{where}: {key} {value!r} is no HH:MM[:SS] or entity")
    return found


def action_problems(where: str, action: Any) -> list[str]:
    if not isinstance(action, dict):
        return [f"{where}: not a mapping"]
    if "service" in action:
        return [f"{where}: service is spelled action since Home Assistant 2024.10"]
    if "action" not in action:
        return [f"{where}: only service calls (action: domain.name) are checked here"]
    found = _key_problems(where, action, ACTION_KEYS)
    name = action["action"]
    target = action.get("target", {})
    if isinstance(target, dict):
        found += [f"{where}: unknown target key {key}" for key in sorted(target.keys() - TARGET_KEYS)]
    if name not in ACTION_DATA:
        found.append(f"{where}: the data of {name} is not checked here: add its keys to ACTION_DATA")
    else:
        # Home Assistant checks the data when the action runs, not when the automation loads.
        found += _key_problems(
            f"{where} ({name} data, when it runs)", action.get("data", {}), ACTION_DATA[name]
        )
    return found


def automation_problems(where: str, automation: Any) -> list[str]:
    """What Home Assistant 2025.4 would reject in one automation (or the automation part of a blueprint);
    [] when it loads. `!input` values are taken as given."""
    if not isinstance(automation, dict):
        return [f"{where}: not a mapping"]
    found = [
        f"{where}: {old} is spelled {new} since Home Assistant 2024.10"
        for old, new in OLD_SPELLINGS.items()
        if old in automation
    ]
    found += _key_problems(where, automation, AUTOMATION_KEYS, frozenset(OLD_SPELLINGS))
    if automation.get("mode", "single") not in SCRIPT_MODES:
        found.append(f"{where}: mode must be one of {sorted(SCRIPT_MODES)}")
    if str(automation.get("max_exceeded", "warning")).upper() not in MAX_EXCEEDED:
        found.append(f"{where}: max_exceeded must be a log level or silent")
    for key, check in (
        ("triggers", trigger_problems),
        ("conditions", condition_problems),
        ("actions", action_problems),
    ):
        value = automation.get(key, [])
        if isinstance(value, Input):
            continue
        for i, item in enumerate(_as_list(value)):
            found += check(f"{where}: {key}[{i}]", item)
    return found


def blueprint_problems(where: str, blueprint: Any) -> list[str]:
    """What Home Assistant 2025.4 would reject in an automation blueprint; [] when it loads."""
    if not isinstance(blueprint, dict) or not isinstance(blueprint.get("blueprint"), dict):
        return [f"{where}: no blueprint section"]
    meta = blueprint["blueprint"]
    found = _key_problems(f"{where}: blueprint", meta, BLUEPRINT_KEYS)
    if meta.get("domain") != "automation":
        found.append(f"{where}: only automation blueprints are checked here")
    if "homeassistant" in meta:
        found += _key_problems(
            f"{where}: blueprint.homeassistant",
            meta["homeassistant"],
            Keys(optional=frozenset({"min_version"})),
        )
    for name, spec in meta.get("input", {}).items():
        found += _key_problems(f"{where}: input {name}", spec, Keys(optional=BLUEPRINT_INPUT_KEYS))
        selector = spec.get("selector", {}) if isinstance(spec, dict) else {}
        for kind, options in selector.items():
            if kind not in SELECTORS:
                found.append(f"{where}: input {name}: selector {kind} is not checked here")
            else:
                found += _key_problems(
                    f"{where}: input {name}: {kind} selector", options or {}, Keys(optional=SELECTORS[kind])
                )
    found += automation_problems(
        where, {key: value for key, value in blueprint.items() if key != "blueprint"}
    )
    return found
