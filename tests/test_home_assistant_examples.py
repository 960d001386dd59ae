"""The blueprint and example automations for Home Assistant refer to what homeflow really publishes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from homeflow.homeassistant.discovery import EVENT_TYPES, discovery_configs
from homeflow.homeassistant.entities import HOME_ASSISTANT
from homeflow.settings import load
from homeflow.settings.model import MqttSettings
from homeflow.settings.sections import COMMANDS

from .conftest import REPO

EXAMPLES = REPO / "config" / "home-assistant"
TEMPLATES = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)


class Input(str):
    """A blueprint's `!input NAME`."""


class HomeAssistantLoader(yaml.SafeLoader):
    """Reads Home Assistant YAML: blueprints use the `!input` tag."""


HomeAssistantLoader.add_constructor(
    "!input",
    lambda loader, node: Input(loader.construct_scalar(node)),  # type: ignore[arg-type]
)


def walk(value: Any) -> list[Any]:
    """Every value nested in `value`, itself included."""
    found = [value]
    if isinstance(value, dict):
        for item in value.values():
            found += walk(item)
    elif isinstance(value, list):
        for item in value:
            found += walk(item)
    return found


def entity_ids() -> set[str]:
    """The entity ids Home Assistant gives homeflow's discovered entities for the example settings."""
    settings = load(REPO / "config" / "homeflow.yaml")
    ids = set()
    configs = discovery_configs("homeassistant", settings.mqtt.base_topic, settings.routines)
    for topic, config in configs.items():
        component = topic.split("/")[1]
        if "unique_id" in config:
            # HA names an entity of a device "<device name> <entity name>", slugified.
            name = f"{config['device']['name']} {config['name']}"
            ids.add(f"{component}.{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}")
    return ids


def check_automation(automation: dict[str, Any], known: set[str], routines: set[str]) -> None:
    for value in walk(automation):
        for entity in re.findall(r"\b[a-z_]+\.homeflow_[a-z0-9_]+", value) if isinstance(value, str) else []:
            assert entity in known, f"{automation['alias']}: no such entity {entity}"
    for action in walk(automation.get("actions")):
        if isinstance(action, dict) and action.get("action") == "mqtt.publish":
            base, routine, *leaf = action["data"]["topic"].split("/")
            assert (base, leaf) == (
                MqttSettings().base_topic,
                [HOME_ASSISTANT, "set"],
            ) and routine in routines
            assert action["data"]["payload"] in COMMANDS
    for trigger in automation["triggers"]:
        if trigger["trigger"] == "mqtt":
            base, routine, leaf = trigger["topic"].split("/")
            assert (base, leaf) == (MqttSettings().base_topic, "event") and routine in routines
            assert trigger["payload"] in EVENT_TYPES
            payload = {
                "event": trigger["payload"],
                "run_id": 1,
                "trigger": "mqtt",
                "at": "2025-01-01T07:30:00+00:00",
            }
            assert (
                TEMPLATES.from_string(trigger["value_template"]).render(value_json=payload)
                == trigger["payload"]
            )


def readme_section() -> str:
    readme = (REPO / "README.md").read_text()
    return readme.split("\n## Home Assistant\n", 1)[1].split("\n## ", 1)[0]


def readme_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", readme_section(), re.DOTALL)


def test_the_blueprint_publishes_a_command_homeflow_accepts() -> None:
    blueprint = yaml.load((EXAMPLES / "homeflow_start_routine.yaml").read_text(), HomeAssistantLoader)
    meta, inputs = blueprint["blueprint"], blueprint["blueprint"]["input"]
    assert meta["domain"] == "automation"
    assert {v for v in walk(blueprint) if isinstance(v, Input)} == set(inputs)
    assert inputs["when"]["selector"] == {"trigger": {}}
    assert blueprint["triggers"] == "when"
    assert tuple(inputs["command"]["selector"]["select"]["options"]) == COMMANDS
    defaults = {name: spec["default"] for name, spec in inputs.items() if "default" in spec}
    assert defaults["routine"] in load(REPO / "config" / "homeflow.yaml").routines
    variables = {name: defaults[ref] for name, ref in blueprint["variables"].items()}
    [action] = blueprint["actions"]
    assert action["action"] == "mqtt.publish"
    rendered = {
        key: TEMPLATES.from_string(str(value)).render(**variables) for key, value in action["data"].items()
    }
    assert rendered == {
        "topic": "homeflow/back-massage/home_assistant/set",
        "payload": "start",
        "qos": "1",
        "retain": "False",
    }


def test_the_example_automations_use_real_entities_and_topics() -> None:
    known = entity_ids()
    assert "button.homeflow_back_massage_start" in known
    routines = set(load(REPO / "config" / "homeflow.yaml").routines)
    in_file = yaml.safe_load((EXAMPLES / "automations.yaml").read_text())
    for automation in in_file:
        check_automation(automation, known, routines)
    automations = [block for block in readme_blocks() if block.startswith("- alias:")]
    in_readme = [item for block in automations for item in yaml.safe_load(block)]
    assert in_readme == in_file[: len(in_readme)] and len(in_readme) >= 3


def test_the_readme_settings_for_home_assistant_lights_load(tmp_path: Path) -> None:
    [snippet] = [block for block in readme_blocks() if block.startswith("home_assistant:")]
    (tmp_path / "secrets.yaml").write_text("ha_token: eyJ.example.token\n")
    (tmp_path / "homeflow.yaml").write_text(snippet)
    settings = load(tmp_path / "homeflow.yaml")
    assert settings.home_assistant.url == "http://homeassistant.local:8123"
    assert settings.home_assistant.token == "eyJ.example.token"
    assert [light.name for light in settings.lights.values()] == ["desk"]
    named = re.findall(r"`([a-z_]+\.homeflow_[a-z0-9_]+)`", readme_section())
    assert len(named) >= 8
    assert set(named) <= entity_ids()
