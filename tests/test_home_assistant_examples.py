"""The blueprint and example automations for Home Assistant refer to what homeflow really publishes, and load
on the oldest Home Assistant homeflow supports."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from homeflow.homeassistant.discovery import EVENT_TYPES, discovery_configs
from homeflow.homeassistant.entities import HOME_ASSISTANT
from homeflow.settings import load
from homeflow.settings.model import MqttSettings
from homeflow.settings.sections import COMMANDS

from .conftest import REPO
from .ha_schema import (
    OLDEST_HOME_ASSISTANT,
    HomeAssistantLoader,
    Input,
    automation_problems,
    blueprint_problems,
)

EXAMPLES = REPO / "config" / "home-assistant"
# What an `answered` event carries beside every event's fields (tests/test_answer_published.py).
ANSWERED = {"feedback": "good", "reps_level": 10, "reps_reason": "1 good run in a row"}
TEMPLATES = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)


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
            # HA names an entity of a device "<device name> <entity name>", slugified (letters with
            # accents as their base letter: "Rückenmassage" is "ruckenmassage").
            name = f"{config['device']['name']} {config['name']}"
            name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
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
                **(ANSWERED if trigger["payload"] == "answered" else {}),
            }
            assert (
                TEMPLATES.from_string(trigger["value_template"]).render(value_json=payload)
                == trigger["payload"]
            )
            # The actions read only what the event carries (strict: a missing field fails).
            for value in walk(automation["actions"]):
                if isinstance(value, str) and "{{" in value:
                    TEMPLATES.from_string(value).render(
                        trigger={"payload_json": payload}, states=lambda _entity: "3"
                    )
    # The next level changes with the answer, after `completed`: only `answered` tells it fresh.
    text = yaml.safe_dump(automation)
    if "reps_level" in text or "_repetitions" in text:
        assert [t.get("payload") for t in automation["triggers"]] == ["answered"], automation["alias"]


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


def test_the_examples_load_on_the_oldest_home_assistant_supported() -> None:
    """Every automation and the blueprint homeflow ships, in config/home-assistant and in the README, takes
    only the keys Home Assistant 2025.4 accepts (checked against the real 2025.4.4 once: see ha_schema)."""
    found: list[str] = []
    for automation in yaml.safe_load((EXAMPLES / "automations.yaml").read_text()):
        found += automation_problems(f"automations.yaml: {automation.get('alias')}", automation)
    for block in readme_blocks():
        if block.startswith("- alias:"):
            for automation in yaml.safe_load(block):
                found += automation_problems(f"README: {automation.get('alias')}", automation)
    blueprint = yaml.load((EXAMPLES / "homeflow_start_routine.yaml").read_text(), HomeAssistantLoader)
    found += blueprint_problems("homeflow_start_routine.yaml", blueprint)
    assert found == []


ACTIONS = [{"action": "button.press", "target": {"entity_id": "button.homeflow_back_massage_start"}}]
AT_7_30 = {"trigger": "time", "at": "07:30:00"}


@pytest.mark.parametrize(
    ("automation", "problem"),
    [
        # What the real Home Assistant 2025.4.4 answered to POST /api/config/automation/config/<id>:
        # "extra keys not allowed @ data['weekday']"
        pytest.param(
            {"triggers": [{**AT_7_30, "weekday": ["mon", "fri"]}], "actions": ACTIONS},
            "triggers[0] (time): extra key weekday",
            id="weekday-on-the-time-trigger",
        ),
        # "must contain at least one of before, after, weekday."
        pytest.param(
            {"triggers": [AT_7_30], "conditions": [{"condition": "time"}], "actions": ACTIONS},
            "conditions[0] (time): needs at least one of",
            id="empty-time-condition",
        ),
        # "value must be one of ['fri', 'mon', ...] @ data['conditions'][0]['weekday'][0]"
        pytest.param(
            {
                "triggers": [AT_7_30],
                "conditions": [{"condition": "time", "weekday": "monday"}],
                "actions": ACTIONS,
            },
            "conditions[0] (time): weekday takes",
            id="weekday-spelled-out",
        ),
        # "must contain at least one of below, above."
        pytest.param(
            {"triggers": [{"trigger": "numeric_state", "entity_id": "zone.home"}], "actions": ACTIONS},
            "triggers[0] (numeric_state): needs at least one of",
            id="numeric-state-without-bounds",
        ),
        # "extra keys not allowed @ data['retain']"
        pytest.param(
            {
                "triggers": [{"trigger": "mqtt", "topic": "homeflow/x/event", "retain": True}],
                "actions": ACTIONS,
            },
            "triggers[0] (mqtt): extra key retain",
            id="mqtt-trigger-retain",
        ),
        # "Expected HH:MM, HH:MM:SS, an Entity ID with domain 'input_datetime' or 'sensor', ..."
        pytest.param(
            {"triggers": [{"trigger": "time", "at": "7.30"}], "actions": ACTIONS},
            "triggers[0] (time): at '7.30' is no HH:MM[:SS]",
            id="at-not-a-time",
        ),
        # "extra keys not allowed @ data['actions'][0]['entity']"
        pytest.param(
            {"triggers": [AT_7_30], "actions": [{"action": "button.press", "entity": "button.x"}]},
            "actions[0]: extra key entity",
            id="action-extra-key",
        ),
        # "value must be one of ['parallel', 'queued', 'restart', 'single'] ... @ data['mode']"
        pytest.param(
            {"triggers": [AT_7_30], "actions": ACTIONS, "mode": "queue"},
            "mode must be one of",
            id="mode",
        ),
    ],
)
def test_the_check_rejects_what_home_assistant_2025_4_rejects(
    automation: dict[str, Any], problem: str
) -> None:
    found = automation_problems("example", {"alias": "example", **automation})
    assert len(found) == 1 and problem in found[0], found


def test_the_blueprint_and_the_readme_state_the_oldest_home_assistant() -> None:
    blueprint = yaml.load((EXAMPLES / "homeflow_start_routine.yaml").read_text(), HomeAssistantLoader)
    assert blueprint["blueprint"]["homeassistant"] == {"min_version": OLDEST_HOME_ASSISTANT}
    oldest = OLDEST_HOME_ASSISTANT.rsplit(".", 1)[0]
    assert f"Home Assistant {oldest} and later" in readme_section()
