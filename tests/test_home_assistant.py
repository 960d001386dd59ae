"""Home Assistant sees homeflow: the settings section, and MQTT discovery through the real broker."""

from __future__ import annotations

import json
import logging
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from homeflow.settings import SettingsError, load
from homeflow.settings.model import HomeAssistantLight, HomeAssistantSettings

from .ha_schema import DISCOVERY_TOPIC, problems_of
from .harness import SHORT_ROUTINE, Collector, Message, collecting, retained, serving, write_settings
from .mosquitto import Broker

LONG_ROUTINE = """\
name: Long stretch
steps:
  - title: First
    do: [{wait: {seconds: 60}}]
  - title: Second
    do: [{wait: {seconds: 60}}]
  - title: Third
    do: [{wait: {seconds: 60}}]
"""
BUTTONS = ("start", "pause", "resume", "skip", "cancel", "good", "too_much", "hurt")
ANSWER_BUTTONS = ("good", "too_much", "hurt")
SENSORS = ("state", "step", "progress", "last_completed", "streak", "reps", "refused")
TRIGGERS = ("started", "completed", "cancelled", "interrupted", "refused", "resumed", "answered")
# Once a day: the second start is refused, which Home Assistant's "last refused start" sensor shows.
ONCE_A_DAY = SHORT_ROUTINE + "limits: {max_per_day: 1}\n"
# Home Assistant renders templates in a sandbox; strict undefined turns a missing key into a failure.
TEMPLATES = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)


def expected_topics(prefix: str, node: str, routines: tuple[str, ...]) -> set[str]:
    """What Home Assistant must be told: a hub status, and each routine's entities and triggers."""
    ha = f"{prefix}/ha"
    topics = {f"{ha}/binary_sensor/{node}/status/config"}
    for routine in routines:
        topics |= {f"{ha}/button/{node}/{routine}_{b}/config" for b in BUTTONS}
        topics |= {f"{ha}/sensor/{node}/{routine}_{s}/config" for s in SENSORS}
        topics |= {f"{ha}/device_automation/{node}/{routine}_{t}/config" for t in TRIGGERS}
        topics.add(f"{ha}/event/{node}/{routine}_run/config")
        topics.add(f"{ha}/switch/{node}/{routine}_schedules/config")
        topics.add(f"{ha}/number/{node}/{routine}_next_reps/config")
    return topics


def render(template: str, payload: str) -> str:
    try:
        value_json = json.loads(payload)
    except ValueError:
        value_json = None
    return TEMPLATES.from_string(template).render(value=payload, value_json=value_json)


def configs_in(watch: Collector, topics: set[str], since: int = 0) -> dict[str, dict[str, Any]]:
    return {m.topic: m.json for m in watch.messages[since:] if m.topic in topics and m.text}


# -- settings --------------------------------------------------------------------------------------


def write(folder: Path, text: str) -> Path:
    (folder / "homeflow.yaml").write_text(textwrap.dedent(text))
    return folder / "homeflow.yaml"


def test_the_section_has_defaults_and_takes_the_rest_api(tmp_path: Path) -> None:
    assert load(write(tmp_path, "mqtt: {}\n")).home_assistant == HomeAssistantSettings()
    loaded = load(
        write(
            tmp_path,
            """\
            home_assistant:
              discovery_prefix: ha
              discovery: false
              url: http://homeassistant.local:8123/
              token: abc.DEF-123
              area: Living room
            lights:
              desk: {home_assistant: light.desk_lamp}
            """,
        )
    )
    assert loaded.home_assistant == HomeAssistantSettings(
        "ha", False, "http://homeassistant.local:8123", "abc.DEF-123", area="Living room"
    )
    assert "abc" not in repr(loaded.home_assistant)
    assert loaded.lights == {"desk": HomeAssistantLight("desk", "light.desk_lamp")}


def test_mistakes_are_located_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        """\
        home_assistant:
          discovery_prefix: ha/#
          discovery: sometimes
          url: ftp://ha.local
          token: two words
          area: ""
        lights:
          desk: {home_assistant: light.desk_lamp}
          hall: {home_assistant: switch.hall}
        """,
    )
    with pytest.raises(SettingsError) as caught:
        load(Path("homeflow.yaml"))
    assert str(caught.value).splitlines() == [
        "homeflow.yaml:2:21: home_assistant.discovery_prefix: "
        'a topic cannot contain the wildcards + or #, got "ha/#"',
        'homeflow.yaml:3:14: home_assistant.discovery: expected true or false, got "sometimes"',
        'homeflow.yaml:4:8: home_assistant.url: expected http://HOST:8123, got "ftp://ha.local"',
        "homeflow.yaml:5:10: home_assistant.token: use only letters, digits and punctuation (no spaces)",
        "homeflow.yaml:6:9: home_assistant.area: must not be empty",
        "homeflow.yaml:8:26: lights.desk.home_assistant: a Home Assistant light needs home_assistant.url "
        "and home_assistant.token (its REST API)",
        "homeflow.yaml:9:26: lights.hall.home_assistant: "
        'expected a light\'s entity id like light.desk_lamp, got "switch.hall"',
        "homeflow.yaml:9:26: lights.hall.home_assistant: a Home Assistant light needs home_assistant.url "
        "and home_assistant.token (its REST API)",
    ]


def test_the_schema_checker_catches_what_home_assistant_rejects() -> None:
    topic = "homeassistant/sensor/hf/x_state/config"
    bad = {"name": "State", "unique_id": "u", "value_template": 3, "options": ["a"], "colour": "red"}
    assert problems_of(topic, bad) == [
        f"{topic}: missing required key state_topic",
        f"{topic}: unknown key colour",
        f"{topic}: value_template is not a template string",
        f"{topic}: options need device_class enum",
    ]
    assert problems_of("homeassistant/button/h f/x/config", {}) != []
    assert problems_of("homeassistant/device_automation/hf/t/config", {"automation_type": "action"}) != []
    button = "homeassistant/button/hf/x_good/config"
    both = {
        "command_topic": "a/set",
        "unique_id": "u",
        "availability_topic": "a",
        "availability": [{"topic": "b"}],
    }
    assert problems_of(button, both) == [
        f"{button}: availability_topic and availability cannot both be given"
    ]
    items = {
        "command_topic": "a/set",
        "unique_id": "u",
        "availability": [{"value_template": 1}, {"topic": "a/#/b"}],
    }
    assert problems_of(button, {**items, "availability_mode": "most"}) == [
        f"{button}: availability[0]: missing required key topic",
        f"{button}: availability[0]: value_template is not a string",
        f"{button}: availability[1]: topic is not a valid topic: 'a/#/b'",
        f"{button}: availability_mode must be one of ['all', 'any', 'latest']",
    ]


# -- discovery through the broker ------------------------------------------------------------------


async def test_discovery_follows_home_assistants_schemas_and_its_buttons_drive_runs(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    base, node = f"{prefix}/hf", f"{prefix}_hf"
    topics = expected_topics(prefix, node, ("long", "short"))
    config = write_settings(
        tmp_path,
        broker,
        prefix,
        "automations: [{routine: long}, {routine: short, area: Kitchen}]\n",
        routines={"long": LONG_ROUTINE, "short": ONCE_A_DAY},
        home_assistant={"area": "Bedroom"},
        http={"public_url": "http://192.0.2.7:8765"},
    )
    async with (
        collecting(broker, f"{prefix}-ha", f"{prefix}/ha/#", f"{base}/#") as watch,
        serving(config, watch, base, time_scale=10),
    ):
        await watch.wait_until(lambda: topics <= configs_in(watch, topics).keys())
        configs = configs_in(watch, topics)
        assert {m.topic for m in watch.messages if DISCOVERY_TOPIC.fullmatch(m.topic)} == topics
        kept = await retained(broker, f"{prefix}-fresh", f"{prefix}/ha/#")
        assert {t: json.loads(text) for t, text in kept.items()} == configs

        def entity(component: str, routine: str, key: str) -> dict[str, Any]:
            return configs[f"{prefix}/ha/{component}/{node}/{routine}_{key}/config"]

        def press(routine: str, button: str) -> Any:
            pressed = entity("button", routine, button)
            return watch.client.publish(pressed["command_topic"], pressed["payload_press"], qos=1)

        def state_is(check: Any) -> Any:
            return lambda m: check(m.json)

        # The number of the next run's repetitions: from the gentler run's 3 (after "it hurt") to reps.max.
        reps = entity("number", "long", "next_reps")
        assert (reps["min"], reps["max"], reps["step"]) == (3, 10, 1)
        await watch.client.publish(reps["command_topic"], "10", qos=1)
        await watch.wait_for(f"{base}/long/stats", lambda m: m.json["reps_level"] == 10)
        assert watch.on(f"{base}/long/stats")[-1].json["reps_reason"] == "set in Home Assistant"

        state = f"{base}/long/state"
        await press("long", "start")
        await watch.wait_for(state, state_is(lambda s: s["state"] == "running" and s["step_index"] == 0))
        assert watch.on(state)[-1].json["reps"] == 10
        started = await watch.wait_for(f"{base}/long/event", lambda m: m.json["event"] == "started")
        assert started.json["trigger"] == "home_assistant"  # not "mqtt": Home Assistant's own topic
        await press("long", "pause")
        mark = len(watch.messages)
        await watch.wait_for(state, state_is(lambda s: s["state"] == "paused"), since=mark)
        await press("long", "resume")
        await watch.wait_for(state, state_is(lambda s: s["state"] == "running"), since=mark)
        await press("long", "skip")
        await watch.wait_for(state, state_is(lambda s: s["step_index"] == 1), since=mark)
        await press("long", "cancel")
        await watch.wait_for(f"{base}/long/event", lambda m: m.json["event"] == "cancelled")
        # Any other MQTT client still starts a run on <base>/<routine>/set, and reads as `mqtt`.
        await watch.client.publish(f"{base}/short/set", "start", qos=1)
        done = await watch.wait_for(f"{base}/short/event", lambda m: m.json["event"] == "completed")
        assert watch.on(f"{base}/short/event")[0].json["trigger"] == "mqtt"
        # The figures go out before the event, so an automation reacting to it reads them new.
        stats = watch.on(f"{base}/short/stats")[-1]
        assert watch.messages.index(stats) < watch.messages.index(done)
        assert stats.json["last_completed"] is not None
        await press("short", "start")  # once a day: refused, and the sensor keeps why
        refused = await watch.wait_for(f"{base}/short/refused", lambda m: True)
        assert refused.json["trigger"] == "home_assistant" and "today" in refused.json["reason"]
        schedules = entity("switch", "long", "schedules")
        await watch.client.publish(schedules["command_topic"], "OFF", qos=1)
        await watch.wait_for(schedules["state_topic"], lambda m: m.text == "OFF")

    published = {m.topic for m in watch.messages if not DISCOVERY_TOPIC.fullmatch(m.topic)}
    unique_ids = [c["unique_id"] for c in configs.values() if "unique_id" in c]
    assert len(unique_ids) == len(set(unique_ids)) == len(configs) - 2 * len(TRIGGERS)
    hub = configs[f"{prefix}/ha/binary_sensor/{node}/status/config"]["device"]["identifiers"]
    for topic, config in configs.items():
        assert problems_of(topic, config) == []
        assert config["device"].get("via_device", hub[0]) in hub
        assert config["device"]["configuration_url"] == "http://192.0.2.7:8765"
        # The short routine's device is in the room its automation names; the rest in homeflow's area.
        in_kitchen = config["device"]["identifiers"] == [f"{node}_short"]
        assert config["device"]["suggested_area"] == ("Kitchen" if in_kitchen else "Bedroom")
        if "unique_id" in config and topic.split("/")[2] != "binary_sensor":
            # Every entity but the hub's status (which shows homeflow offline) depends on the status.
            listed = [a["topic"] for a in config.get("availability", [])]
            sources = [config.get("availability_topic"), *listed]
            assert f"{base}/status" in sources, topic
        if "availability_topic" in config:
            assert config["availability_topic"] == f"{base}/status"
        if any(topic.endswith(f"_{answer}/config") for answer in ANSWER_BUTTONS):
            # An answer: available only while homeflow is online and the routine's question is open.
            state = config["command_topic"].replace("/home_assistant/set", "/state")
            assert config["availability_mode"] == "all"
            assert [a["topic"] for a in config["availability"]] == [f"{base}/status", state]
        else:
            assert "availability" not in config
        for key in ("state_topic", "json_attributes_topic", "availability_topic", "topic"):
            if key in config and config[key] != f"{base}/long/refused":  # long was never refused
                assert config[key] in published, f"{topic}: {key} {config[key]} is never published"
        if config.get("state_topic") != f"{base}/long/refused":
            check_templates(topic, config, watch.messages)
    assert {m.json["event"] for m in watch.messages if m.topic.endswith("/event")} == {
        "started",
        "cancelled",
        "completed",
        "refused",
    }


def check_templates(topic: str, entity: dict[str, Any], messages: list[Message]) -> None:
    """Render the entity's templates against every payload homeflow published on its topics."""
    component = DISCOVERY_TOPIC.fullmatch(topic)["component"]  # type: ignore[index]
    for source in entity.get("availability", []):
        payloads = [m.text for m in messages if m.topic == source["topic"]]
        assert payloads, f"{topic}: nothing published on {source['topic']}"
        on, off = source.get("payload_available", "online"), source.get("payload_not_available", "offline")
        for payload in payloads:
            value = render(source["value_template"], payload) if "value_template" in source else payload
            assert value in (on, off), f"{topic}: availability {value!r} from {payload}"
            if "value_template" in source:  # the answer buttons: available exactly while asking
                assert (value == on) == (json.loads(payload)["state"] == "asking")
    source = entity.get("state_topic") or entity.get("topic")
    if source is None:
        return  # a button: nothing to render
    payloads = [m.text for m in messages if m.topic == source]
    assert payloads, f"{topic}: nothing published on {source}"
    for payload in payloads:
        value = render(entity["value_template"], payload) if "value_template" in entity else payload
        if component == "binary_sensor":
            assert value in (entity["payload_on"], entity["payload_off"])
        elif component == "event":
            event = json.loads(value)
            assert event["event_type"] in entity["event_types"]
            assert (event["reason"] is not None) == (event["event_type"] == "refused")
        elif component == "switch":
            assert value in (entity["payload_on"], entity["payload_off"])
        elif component == "number":
            assert entity["min"] <= float(value) <= entity["max"]
        elif component == "device_automation":
            assert (value == entity["payload"]) == (json.loads(payload)["event"] == entity["type"])
        elif entity.get("device_class") == "enum":
            assert value in entity["options"], f"{topic}: {value!r} not in {entity['options']}"
        elif entity.get("device_class") == "timestamp":
            assert value == "None" or datetime.fromisoformat(value).tzinfo is not None
        elif "state_class" in entity:
            assert 0 <= float(value) <= (100 if entity.get("unit_of_measurement") == "%" else 10_000)
        else:
            assert value, f"{topic}: renders empty on {payload}"
        if "json_attributes_template" in entity:
            attributes = json.loads(render(entity["json_attributes_template"], payload))
            assert isinstance(attributes, dict)
            if topic.endswith("_step/config"):
                assert attributes.keys() == {"index", "steps", "reps", "ends_at"}


async def test_a_home_assistant_restart_gets_the_configs_again(
    tmp_path: Path, broker: Broker, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    base, node = f"{prefix}/hf", f"{prefix}_hf"
    topics = expected_topics(prefix, node, ("short",))
    config = write_settings(tmp_path, broker, prefix, routines={"short": SHORT_ROUTINE})
    async with (
        collecting(broker, f"{prefix}-ha", f"{prefix}/ha/#", f"{base}/status") as watch,
        serving(config, watch, base),
    ):
        await watch.wait_until(lambda: topics <= configs_in(watch, topics).keys())
        first = configs_in(watch, topics)
        with caplog.at_level(logging.WARNING, logger="homeflow"):
            await watch.client.publish(f"{prefix}/ha/status", "rebooting", qos=1)
            mark = len(watch.messages)
            await watch.client.publish(f"{prefix}/ha/status", "online", qos=1)
            await watch.wait_until(lambda: topics <= configs_in(watch, topics, mark).keys())
    assert configs_in(watch, topics, mark) == first
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"Home Assistant status is neither online nor offline: {prefix}/ha/status 'rebooting'"
    ]


async def test_a_removed_routine_loses_its_entities_and_discovery_off_removes_all(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    base, node = f"{prefix}/hf", f"{prefix}_hf"
    both = expected_topics(prefix, node, ("long", "short"))
    kept = expected_topics(prefix, node, ("long",))
    routines = {"long": LONG_ROUTINE, "short": SHORT_ROUTINE}
    config = write_settings(tmp_path, broker, prefix, routines=routines)
    async with collecting(broker, f"{prefix}-ha", f"{prefix}/ha/#", f"{base}/status") as watch:
        async with serving(config, watch, base):
            await watch.wait_until(lambda: both <= configs_in(watch, both).keys())
        assert set(await retained(broker, f"{prefix}-fresh1", f"{prefix}/ha/#")) == both

        (tmp_path / "routines" / "short.yaml").unlink()
        mark = len(watch.messages)
        async with serving(config, watch, base):
            cleared = both - kept
            await watch.wait_until(
                lambda: cleared <= {m.topic for m in watch.messages[mark:] if m.text == ""}
            )
        assert set(await retained(broker, f"{prefix}-fresh2", f"{prefix}/ha/#")) == kept

        write_settings(tmp_path, broker, prefix, home_assistant={"discovery": False})
        mark = len(watch.messages)
        async with serving(config, watch, base):
            await watch.wait_until(lambda: kept <= {m.topic for m in watch.messages[mark:] if m.text == ""})
        assert await retained(broker, f"{prefix}-fresh3", f"{prefix}/ha/#") == {}
    assert not [m for m in watch.messages[mark:] if m.text and m.topic.endswith("/config")]
