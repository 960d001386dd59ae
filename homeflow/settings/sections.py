"""The sections of `homeflow.yaml` about connections and devices, and the automations binding them."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Collection
from pathlib import Path

from homeflow.settings.checks import Checker, is_null, too_long
from homeflow.settings.limits import (
    MAX_AREA_CHARS,
    MAX_CLIENT_ID_CHARS,
    MAX_HOST_CHARS,
    MAX_MQTT_STRING_BYTES,
    MAX_PROFILE_CHARS,
    MAX_TOPIC_CHARS,
)
from homeflow.settings.model import (
    Automation,
    ButtonTrigger,
    HomeAssistantLight,
    HomeAssistantSettings,
    LightSettings,
    MqttSettings,
    Profile,
    Tls,
    Trigger,
    VirtualLight,
    Zigbee2MqttButton,
    Zigbee2MqttLight,
    Zigbee2MqttSettings,
)
from homeflow.settings.problems import child, hint, index, quote
from homeflow.settings.schedules import parse_schedule
from homeflow.settings.yamlnodes import Map, Node, Scalar, Seq

_MQTT_KEYS = (
    "host",
    "port",
    "username",
    "password",
    "base_topic",
    "client_id",
    "keepalive",
    "tls",
    "embedded",
)
_TLS_KEYS = ("ca_file", "cert_file", "key_file", "insecure")
_AUTOMATION_KEYS = ("routine", "when", "lights", "speakers", "profiles", "area")
# Profile names become MQTT topic levels and parts of Home Assistant's entity ids.
PROFILE_NAME = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{MAX_PROFILE_CHARS - 1}}}")
# Names that automations may refer to, by kind: "routine", "button", "light", "speaker".
Known = dict[str, Collection[str]]
# What a button's gesture may do: a command, an answer to the end-of-run question, or say the routine's
# safety introduction.
COMMANDS = ("start", "toggle", "pause", "resume", "skip", "cancel", "good", "too_much", "hurt", "safety")
# Home Assistant's rule for entity ids, in the one domain homeflow drives.
LIGHT_ENTITY_ID = re.compile(r"light\.(?!_)[a-z0-9_]+(?<!_)")


def resolve(base: Path, text: str) -> Path:
    """`text` as an absolute path, relative to the folder `base`."""
    return Path(os.path.normpath(base / Path(text).expanduser()))


def parse_mqtt(ch: Checker, node: Node | None, base: Path) -> MqttSettings:
    """The MQTT broker to connect to, and homeflow's own topics on it."""
    f = ch.fields(node, "mqtt", _MQTT_KEYS)
    default = MqttSettings()
    embedded = ch.boolean(f.get("embedded"), "mqtt.embedded", False)
    if embedded:
        _embedded_broker_limits(ch, f)
    return MqttSettings(
        host=ch.text(f.get("host"), "mqtt.host", default.host, most=MAX_HOST_CHARS),
        port=ch.integer(f.get("port"), "mqtt.port", default.port, lo=1, hi=65535, what="a port number"),
        username=_mqtt_string(ch, f.get("username"), "mqtt.username"),
        password=_mqtt_string(ch, f.get("password"), "mqtt.password"),
        base_topic=topic(ch, f.get("base_topic"), "mqtt.base_topic", default.base_topic),
        client_id=ch.text(f.get("client_id"), "mqtt.client_id", default.client_id, most=MAX_CLIENT_ID_CHARS),
        tls=_tls(ch, f.get("tls"), base),
        keepalive=ch.integer(
            f.get("keepalive"), "mqtt.keepalive", default.keepalive, lo=0, hi=65535, what="seconds"
        ),
        embedded=embedded,
    )


def _mqtt_string(ch: Checker, node: Node | None, path: str) -> str | None:
    """Text MQTT carries with a 16-bit length: longer, and the client fails at connect. Empty (an
    empty `!env` variable, as docker compose passes an unset one) is no login."""
    if node is not None and is_null(node):
        return None
    text = ch.text(node, path)
    if node is not None and text is not None and len(text.encode()) > MAX_MQTT_STRING_BYTES:
        ch.report(node, path, too_long(len(text.encode()), MAX_MQTT_STRING_BYTES, "bytes"))
        return None
    return text


def _embedded_broker_limits(ch: Checker, f: dict[str, Node]) -> None:
    """The embedded broker is plain MQTT on this machine's loopback, so nothing may point elsewhere."""
    host, loopback = f.get("host"), MqttSettings().host
    if host is not None and ch.text(host, "mqtt.host") not in (None, loopback):
        ch.report(host, "mqtt.host", f"with embedded: true the broker is on {loopback}; drop host")
    if "tls" in f:
        ch.report(f["tls"], "mqtt.tls", "the embedded broker speaks plain MQTT on loopback; drop tls")


def _tls(ch: Checker, node: Node | None, base: Path) -> Tls | None:
    if node is None:
        return None
    if isinstance(node, Scalar) and isinstance(node.value, bool):
        return Tls() if node.value else None
    if not isinstance(node, Map):
        ch.report(
            node, "mqtt.tls", "expected true, false or a mapping of ca_file, cert_file, key_file, insecure"
        )
        return None
    f = ch.fields(node, "mqtt.tls", _TLS_KEYS)
    files: list[Path | None] = []
    for key in _TLS_KEYS[:3]:
        path = child("mqtt.tls", key)
        text = ch.text(f.get(key), path)
        file = None if text is None else resolve(base, text)
        if file is not None and not _is_file(file):
            ch.report(f[key], path, f"no such file: {quote(str(file))}")
        files.append(file)
    if (files[1] is None) != (files[2] is None):
        ch.report(node, "mqtt.tls", "cert_file and key_file go together")
    return Tls(files[0], files[1], files[2], ch.boolean(f.get("insecure"), "mqtt.tls.insecure", False))


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def topic(ch: Checker, node: Node | None, path: str, default: str) -> str:
    """An MQTT topic prefix: no wildcards, no empty levels."""
    text = ch.text(node, path, most=MAX_TOPIC_CHARS)
    if node is None or text is None:
        return default
    if "+" in text or "#" in text:
        ch.report(node, path, f"a topic cannot contain the wildcards + or #, got {quote(text)}")
    elif text.startswith("/") or text.endswith("/") or "//" in text:
        ch.report(node, path, f"a topic has no leading, trailing or double /, got {quote(text)}")
    return text


def friendly_name(ch: Checker, node: Node | None, path: str) -> str:
    """A Zigbee2MQTT device's friendly name: a level (or a few) of the topics homeflow subscribes to."""
    name = ch.text(node, path, "", most=MAX_TOPIC_CHARS)
    if "+" in name or "#" in name:
        assert node is not None
        ch.report(node, path, f"a friendly name cannot contain the MQTT wildcards + or #, got {quote(name)}")
        return ""
    return name


def parse_zigbee2mqtt(ch: Checker, node: Node | None) -> Zigbee2MqttSettings:
    """Where Zigbee2MQTT publishes."""
    f = ch.fields(node, "zigbee2mqtt", ("base_topic",))
    default = Zigbee2MqttSettings()
    return Zigbee2MqttSettings(topic(ch, f.get("base_topic"), "zigbee2mqtt.base_topic", default.base_topic))


def names(node: Node | None) -> list[str]:
    """The names a mapping of devices defines, valid or not, so references to them are not reported twice."""
    return list(node.entries) if isinstance(node, Map) else []


def parse_lights(
    ch: Checker, node: Node | None, home_assistant: HomeAssistantSettings
) -> dict[str, LightSettings]:
    """Lights by name, each behind one protocol."""
    lights: dict[str, LightSettings] = {}
    for key, value in ch.entries(node, "lights"):
        path = child("lights", key.text)
        picked = ch.one_key(value, path, ("zigbee2mqtt", "home_assistant", "virtual"), "light protocol")
        if picked is None:
            continue
        where = child(path, picked[0])
        if picked[0] == "home_assistant":
            lights[key.text] = _home_assistant_light(ch, picked[1], where, key.text, home_assistant)
        elif picked[0] == "virtual":
            ch.fields(picked[1], where, ())  # no options yet: `virtual: {}`
            lights[key.text] = VirtualLight(key.text)
        else:
            lights[key.text] = Zigbee2MqttLight(key.text, friendly_name(ch, picked[1], where))
    return lights


def _home_assistant_light(
    ch: Checker, node: Node, path: str, name: str, home_assistant: HomeAssistantSettings
) -> HomeAssistantLight:
    """A light by its entity id; it is driven over the REST API, so that must be configured."""
    entity_id = ch.text(node, path, "")
    if entity_id and not LIGHT_ENTITY_ID.fullmatch(entity_id):
        ch.report(node, path, f"expected a light's entity id like light.desk_lamp, got {quote(entity_id)}")
    missing = [f"home_assistant.{key}" for key in ("url", "token") if getattr(home_assistant, key) is None]
    if missing:
        ch.report(node, path, f"a Home Assistant light needs {' and '.join(missing)} (its REST API)")
    return HomeAssistantLight(name, entity_id)


def command_line(ch: Checker, node: Node | None, path: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A command line: a string split like a shell would, or a list of arguments."""
    if node is None:
        return default
    if isinstance(node, Seq):
        words = [ch.text(item, index(path, i), "", empty_ok=True) for i, item in enumerate(node.items)]
    else:
        text = ch.text(node, path)
        if text is None:
            return default
        try:
            words = shlex.split(text)
        except ValueError as error:
            ch.report(node, path, f"cannot split {quote(text)} into words: {error}")
            return default
    if not words:
        ch.report(node, path, "needs a command")
        return default
    return tuple(words)


def parse_buttons(ch: Checker, node: Node | None) -> dict[str, Zigbee2MqttButton]:
    """Buttons by name, and what each of their gestures does."""
    buttons: dict[str, Zigbee2MqttButton] = {}
    for key, value in ch.entries(node, "buttons"):
        path = child("buttons", key.text)
        f = ch.fields(value, path, ("zigbee2mqtt", "gestures"), required=("zigbee2mqtt",))
        device = friendly_name(ch, f.get("zigbee2mqtt"), child(path, "zigbee2mqtt"))
        button = Zigbee2MqttButton(key.text, device)
        if "gestures" in f:
            gestures: dict[str, str] = {}
            for action, command in ch.entries(f["gestures"], child(path, "gestures")):
                where = child(child(path, "gestures"), action.text)
                gestures[action.text] = ch.choice(command, where, "toggle", COMMANDS, "command")
            button = Zigbee2MqttButton(key.text, device, gestures)
        buttons[key.text] = button
    return buttons


def parse_automations(ch: Checker, node: Node | None, known: Known) -> tuple[Automation, ...]:
    """Which routine runs on which triggers, with which lights and speakers."""
    automations: list[Automation] = []
    started_by: dict[str, str] = {}
    people: dict[tuple[str, str], str] = {}  # (routine, profile) -> the automation that names it
    for i, item in enumerate(ch.items(node, "automations") or []):
        path = index("automations", i)
        f = ch.fields(item, path, _AUTOMATION_KEYS, required=("routine",))
        routine = _reference(ch, f.get("routine"), child(path, "routine"), known, "routine")
        when: list[Trigger] = []
        for j, trigger in enumerate(ch.items(f.get("when"), child(path, "when")) or []):
            where = index(child(path, "when"), j)
            if isinstance(trigger, Map) and {"at", "cron"} & set(trigger.entries):
                if schedule := parse_schedule(ch, trigger, where):
                    when.append(schedule)
                continue
            picked = ch.one_key(trigger, where, ("button", "at", "cron"), "trigger")
            if picked is None:
                continue
            button = _reference(ch, picked[1], child(where, "button"), known, "button")
            if started_by.setdefault(button, path) != path and button:
                ch.report(
                    picked[1], child(where, "button"), f"this button already starts {started_by[button]}"
                )
            when.append(ButtonTrigger(button))
        profiles = _profiles(ch, f.get("profiles"), child(path, "profiles"), known)
        for profile, at in profiles:
            where = child(child(path, "profiles"), profile.name)
            if (taken := people.setdefault((routine, profile.name), path)) != path and routine:
                named = f"routine {quote(routine)} already has a profile {quote(profile.name)} ({taken})"
                ch.report(at, where, named)
            if (pressed := profile.button) is not None and ButtonTrigger(pressed) not in when:
                # A profile's button starts the routine for its person, listed under `when` or not.
                if started_by.setdefault(pressed, path) != path:
                    ch.report(at, child(where, "button"), f"this button already starts {started_by[pressed]}")
                when.append(ButtonTrigger(pressed))
        lights = _references(ch, f.get("lights"), child(path, "lights"), known, "light")
        speakers = _references(ch, f.get("speakers"), child(path, "speakers"), known, "speaker")
        people_here = tuple(profile for profile, _node in profiles)
        area = ch.text(f.get("area"), child(path, "area"), most=MAX_AREA_CHARS)
        automations.append(Automation(routine, tuple(when), lights, speakers, people_here, area))
    return tuple(automations)


def _profiles(ch: Checker, node: Node | None, path: str, known: Known) -> list[tuple[Profile, Node]]:
    """The people who do the routine, each with an optional button whose runs are theirs."""
    found: list[tuple[Profile, Node]] = []
    owner: dict[str, str] = {}  # button -> profile
    for key, value in ch.entries(node, path):
        where = child(path, key.text)
        if not PROFILE_NAME.fullmatch(key.text):
            ch.report(
                key,
                where,
                f"a profile name is 1 to {MAX_PROFILE_CHARS} of a-z, 0-9, _ and -, starting with a letter"
                f" or digit, got {quote(key.text)}",
            )
            continue
        f = ch.fields(value, where, ("button",))
        button = _reference(ch, f.get("button"), child(where, "button"), known, "button") or None
        if button is not None and owner.setdefault(button, key.text) != key.text:
            ch.report(
                f["button"], child(where, "button"), f"button {quote(button)} is already {owner[button]}'s"
            )
            button = None
        found.append((Profile(key.text, button), key))
    return found


def _references(ch: Checker, node: Node | None, path: str, known: Known, kind: str) -> tuple[str, ...]:
    found: list[str] = []
    for i, item in enumerate(ch.items(node, path) or []):
        name = _reference(ch, item, index(path, i), known, kind)
        if name in found:
            ch.report(item, index(path, i), f"{kind} {quote(name)} is listed twice")
        elif name:
            found.append(name)
    return tuple(found)


def _reference(ch: Checker, node: Node | None, path: str, known: Known, kind: str) -> str:
    """The name of a configured thing of `kind`; "" once reported if there is none by that name."""
    name = ch.text(node, path, "")
    if node is None or not name:
        return ""
    if name not in known[kind]:
        ch.report(node, path, f"unknown {kind} {quote(name)}{hint(name, sorted(known[kind])) or _none(kind)}")
        return ""
    return name


def _none(kind: str) -> str:
    return f"; no {kind}s are configured"
