"""Loads `homeflow.yaml` and its routines into `Settings`, or fails with every problem found."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from homeflow.routine.model import Routine
from homeflow.routine.plan import build_plan, estimate_speech_s
from homeflow.settings.checks import Checker
from homeflow.settings.cluster import parse_cluster
from homeflow.settings.homeassistant import parse_home_assistant
from homeflow.settings.http import parse_http
from homeflow.settings.journal import parse_journal
from homeflow.settings.model import Settings
from homeflow.settings.problems import Problem, SettingsError, quote
from homeflow.settings.routines import ROUTINE_ID, parse_routine
from homeflow.settings.schedules import parse_time_zone
from homeflow.settings.sections import (
    names,
    parse_automations,
    parse_buttons,
    parse_lights,
    parse_mqtt,
    parse_zigbee2mqtt,
    resolve,
)
from homeflow.settings.speakers import parse_speakers
from homeflow.settings.yamlnodes import Mark, Node, References, read

_TOP_KEYS = (
    "mqtt",
    "zigbee2mqtt",
    "journal",
    "cache",
    "lights",
    "speakers",
    "buttons",
    "routines",
    "automations",
    "time_zone",
    "http",
    "home_assistant",
    "cluster",
)
_ROUTINE_SUFFIXES = (".yaml", ".yml")


def load(path: Path) -> Settings:
    """The settings in `path` and the routines it points to; `SettingsError` lists every problem found."""
    problems: list[Problem] = []
    settings = _load(path, problems)
    if problems or settings is None:
        raise SettingsError(_in_file_order(problems))
    return settings


def _load(path: Path, problems: list[Problem]) -> Settings | None:
    refs = References(path.parent / "secrets.yaml", os.environ, problems)
    root = read(path, str(path), problems, refs)
    if root is None:
        return None
    ch = Checker(problems)
    base = Path(os.path.abspath(path.parent))
    f = ch.fields(root, "", _TOP_KEYS)
    mqtt = parse_mqtt(ch, f.get("mqtt"), base)
    zigbee2mqtt = parse_zigbee2mqtt(ch, f.get("zigbee2mqtt"))
    journal = parse_journal(ch, f.get("journal"), base)
    cache_dir = resolve(base, ch.text(f.get("cache"), "cache", "cache"))
    home_assistant = parse_home_assistant(ch, f.get("home_assistant"))
    lights = parse_lights(ch, f.get("lights"), home_assistant)
    speakers = parse_speakers(ch, f.get("speakers"), home_assistant, base)
    buttons = parse_buttons(ch, f.get("buttons"))
    routines_dir, routines, ids = _routines(ch, f.get("routines"), path, refs)
    known = {
        "routine": ids,
        "light": names(f.get("lights")),
        "speaker": names(f.get("speakers")),
        "button": names(f.get("buttons")),
    }
    automations = parse_automations(ch, f.get("automations"), known)
    time_zone = parse_time_zone(ch, f.get("time_zone"))
    http = parse_http(ch, f.get("http"))
    cluster = parse_cluster(ch, f.get("cluster"), journal)
    if cluster is not None:  # each instance its own MQTT session: one client id may connect once
        mqtt = replace(mqtt, client_id=f"{mqtt.client_id}-{cluster.instance}")
    return Settings(
        path=path,
        mqtt=mqtt,
        journal=journal,
        cache_dir=cache_dir,
        zigbee2mqtt=zigbee2mqtt,
        lights=lights,
        speakers=speakers,
        buttons=buttons,
        routines_dir=routines_dir,
        routines=routines,
        automations=automations,
        time_zone=time_zone,
        http=http,
        home_assistant=home_assistant,
        cluster=cluster,
    )


def _routines(
    ch: Checker, node: Node | None, config: Path, refs: References
) -> tuple[Path, dict[str, Routine], set[str]]:
    """Every routine file in the routines folder, by id; and every id seen, valid or not."""
    text = ch.text(node, "routines", "routines")
    folder = resolve(Path(os.path.abspath(config.parent)), text)
    # Problems name routine files the way the config names them: relative stays relative.
    shown = config.parent / Path(text).expanduser()
    if node is None and not _is_dir(folder):
        return folder, {}, set()  # No routines folder was asked for: none is fine.
    try:
        # By id, then suffix: back-massage before back-massage-de, whatever "-" and "." sort as.
        files = sorted(
            (file for file in folder.iterdir() if file.suffix in _ROUTINE_SUFFIXES and file.is_file()),
            key=lambda file: (file.stem, file.suffix),
        )
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        ch.report(
            node or Mark(str(config), 1, 1), "routines", f"cannot read folder {quote(str(shown))}: {reason}"
        )
        return folder, {}, set()
    routines: dict[str, Routine] = {}
    seen: dict[str, str] = {}
    for file in files:
        display = str(shown / file.name)
        routine_id = file.stem
        valid = _check_id(ch, routine_id, Mark(display, 1, 1), seen)
        seen.setdefault(routine_id, file.name)
        root = read(file, display, ch.problems, refs)
        routine = None if root is None else parse_routine(ch, root, routine_id)
        if routine is not None and valid:
            routines[routine_id] = routine
    return folder, routines, set(seen)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def _check_id(ch: Checker, routine_id: str, at: Mark, seen: dict[str, str]) -> bool:
    if not ROUTINE_ID.fullmatch(routine_id):
        message = "must be lowercase letters, digits, - and _ (it becomes an MQTT topic level)"
        ch.report(at, "", f"routine id {quote(routine_id)} (the file name) {message}")
        return False
    if routine_id in seen:
        ch.report(at, "", f"routine id {quote(routine_id)} is already taken by {seen[routine_id]}")
        return False
    return True


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    """Problems grouped by file (in the order files were read), then by place in the file."""
    rank: dict[str, int] = {}
    for problem in problems:
        rank.setdefault(problem.file, len(rank))
    return sorted(problems, key=lambda problem: (rank[problem.file], problem.line, problem.column))


def summary(settings: Settings) -> str:
    """One paragraph telling what valid settings hold, for `homeflow check`."""
    mqtt = settings.mqtt
    host = f"[{mqtt.host}]" if ":" in mqtt.host else mqtt.host
    tls = ", TLS" if mqtt.tls else ""
    tls += ", embedded broker unless one listens there" if mqtt.embedded else ""
    devices = ", ".join(
        _count(len(things), kind)
        for things, kind in (
            (settings.lights, "light"),
            (settings.speakers, "speaker"),
            (settings.buttons, "button"),
        )
    )
    routines = _count(len(settings.routines), "routine")
    if settings.routines:
        each = (f"{name}: {_count(_titled_steps(r), 'step')}" for name, r in settings.routines.items())
        routines += " (" + ", ".join(each) + ")"
    cluster = settings.cluster
    peers = f" Instance {cluster.instance} of {', '.join(cluster.peers)}." if cluster else ""
    return (
        f"{settings.path} is valid: MQTT {host}:{mqtt.port} (base topic {mqtt.base_topic}{tls}); "
        f"{devices}; {routines}; {_count(len(settings.automations), 'automation')}.{peers}"
    )


def _titled_steps(routine: Routine) -> int:
    """Steps as the plan lays them out (a repeated group counts once per round), as `plan` shows."""
    return len(build_plan(routine, routine.reps.start, estimate_speech_s).steps)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
