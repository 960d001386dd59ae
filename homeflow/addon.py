"""homeflow as a Home Assistant add-on: its settings from the add-on's options and the Supervisor.

Inside the add-on the Supervisor sets `SUPERVISOR_TOKEN`, writes what the user chose in Home
Assistant's UI to `/data/options.json`, maps the add-on's config folder at `/config` and answers at
`http://supervisor`: `/services/mqtt` names the broker and credentials for homeflow, `/info` the
system's time zone, and `/core/api` is Home Assistant's REST API. From these, homeflow writes settings
of its own (a homeflow.yaml and its secrets.yaml, in a private folder removed right after) and loads
them with the loader every settings file goes through, so every check applies; what it refuses is
told by the option's name. `HOMEFLOW_SUPERVISOR_URL`, `HOMEFLOW_ADDON_DATA` and
`HOMEFLOW_ADDON_CONFIG` move the Supervisor and the two folders, so all of it runs outside the add-on.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from homeflow import jsontext, supervisor
from homeflow.defaults import ROUTINES
from homeflow.settings import SettingsError, load, summary
from homeflow.settings.model import Settings
from homeflow.settings.problems import child, hint, index, quote
from homeflow.settings.routines import ROUTINE_ID
from homeflow.supervisor import AddonError

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "SUPERVISOR_TOKEN"
SUPERVISOR_VARIABLE = "HOMEFLOW_SUPERVISOR_URL"
DATA_VARIABLE = "HOMEFLOW_ADDON_DATA"
CONFIG_VARIABLE = "HOMEFLOW_ADDON_CONFIG"
SUPERVISOR = "http://supervisor"
# The Supervisor's own address on its network (172.30.32.0/23): every Ingress request comes from it.
INGRESS_PROXY = "172.30.32.2"
HTTP_PORT = 8765  # the add-on's ingress_port (config.yaml)
OPTIONS = (
    "lights",
    "speakers",
    "tts",
    "language",
    "voice",
    "buttons",
    "zigbee2mqtt_base_topic",
    "time_zone",
    "http_token",
)
_ROUTINE_SUFFIXES = (".yaml", ".yml")
_TTS_ENTITY = re.compile(r"tts\.(?!_)[a-z0-9_]+(?<!_)")  # Home Assistant's rule for entity ids


class OptionsError(AddonError):
    """The add-on's options (or the routines they name) are not what homeflow can run."""


@dataclass(frozen=True, slots=True)
class Addon:
    """Where the add-on's parts are: the Supervisor and its token, the data and config folders."""

    token: str = field(repr=False)
    supervisor: str = SUPERVISOR
    data: Path = Path("/data")
    config: Path = Path("/config")

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Addon:
        return cls(
            env[TOKEN_VARIABLE],
            (env.get(SUPERVISOR_VARIABLE) or SUPERVISOR).rstrip("/"),
            Path(env.get(DATA_VARIABLE) or "/data"),
            Path(env.get(CONFIG_VARIABLE) or "/config"),
        )

    @property
    def options_file(self) -> Path:
        return self.data / "options.json"


def is_addon(config: Path | None, env: Mapping[str, str]) -> bool:
    """True inside the add-on when no settings file is named: `-c` and `$HOMEFLOW_CONFIG` still win."""
    return config is None and not env.get("HOMEFLOW_CONFIG") and bool(env.get(TOKEN_VARIABLE))


@dataclass(frozen=True, slots=True)
class _Secret:
    """A value written to secrets.yaml and named in homeflow.yaml as `!secret NAME`."""

    name: str


async def addon_settings(addon: Addon) -> Settings:
    """homeflow's settings from the add-on's options, its routines folder and the Supervisor."""
    options = _read_options(addon.options_file)
    routines = _routines(addon.config / "routines")
    document, places = _document(options, routines, addon)  # OptionsError before any request
    timeout = aiohttp.ClientTimeout(total=supervisor.REQUEST_TIMEOUT_S)
    headers = {"Authorization": f"Bearer {addon.token}"}
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        broker = supervisor.broker(await supervisor.get(session, addon.supervisor, "/services/mqtt"))
        time_zone = options.get("time_zone") or await supervisor.time_zone(session, addon.supervisor)
        panel = await supervisor.panel(session, addon.supervisor)
    document["mqtt"] = {
        "host": broker.host,
        "port": broker.port,
        **({"username": broker.username} if broker.username is not None else {}),
        **({"password": _Secret("mqtt_password")} if broker.password is not None else {}),
        **({"tls": True} if broker.ssl else {}),
    }
    if time_zone:
        document["time_zone"] = time_zone
    token = options.get("http_token") or secrets.token_hex(16)  # unset: no one knows it, Ingress only
    values = {"ha_token": addon.token, "http_token": token, "mqtt_password": broker.password or ""}
    loaded = _load(document, values, places)
    settings = dataclasses.replace(
        loaded,
        path=addon.options_file,
        http=dataclasses.replace(loaded.http, ingress_proxy=INGRESS_PROXY, panel_url=panel),
    )
    log.info("%s", summary(settings))
    if not options.get("http_token"):
        log.info("no http_token option: the dashboard answers through Home Assistant (Ingress) only")
    return settings


def _read_options(path: Path) -> dict[str, Any]:
    try:
        options = jsontext.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OptionsError(
            [f"no add-on options at {path}; outside the add-on, name settings with -c"]
        ) from None
    except (OSError, ValueError) as exc:
        raise OptionsError([f"cannot read the add-on options {path}: {exc}"]) from None
    if not isinstance(options, dict):
        raise OptionsError([f"{path}: the add-on options must be a JSON object"])
    unknown = [f"{quote(key)}{hint(key, OPTIONS)}" for key in options if key not in OPTIONS]
    if unknown:
        raise OptionsError([f"unknown add-on option {what}" for what in unknown])
    # The UI leaves an option it has no value for empty: that is "not set".
    return {key: value for key, value in options.items() if value not in (None, "")}


def _routines(folder: Path) -> list[str]:
    """The routine ids in the add-on's config folder; the bundled routines are put there at first."""
    try:
        if not folder.exists():
            folder.mkdir(parents=True)
            for routine in sorted(ROUTINES.glob("*.yaml")):
                shutil.copyfile(routine, folder / routine.name)
            log.info("wrote homeflow's routines to %s: edit them there, or add your own", folder)
        files = sorted(folder.iterdir(), key=lambda file: (file.stem, file.suffix))  # as the loader does
    except OSError as exc:
        raise OptionsError([f"cannot use the routines folder {folder}: {exc.strerror or exc}"]) from None
    return [
        f.stem
        for f in files
        if f.suffix in _ROUTINE_SUFFIXES and ROUTINE_ID.fullmatch(f.stem) and f.is_file()
    ]


def _document(
    options: dict[str, Any], routines: list[str], addon: Addon
) -> tuple[dict[str, Any], dict[str, str]]:
    """homeflow.yaml as data, and where each of its parts came from: settings key path → option."""
    problems: list[str] = []
    tts = options.get("tts")
    if tts is not None and not (isinstance(tts, str) and _TTS_ENTITY.fullmatch(tts)):
        problems.append(f"tts: expected a TTS entity id like tts.piper, got {jsontext.dumps(tts)[:60]}")
    places = {"zigbee2mqtt.base_topic": "zigbee2mqtt_base_topic", "time_zone": "time_zone"}
    places["http.token"] = "http_token"
    lights: dict[str, Any] = {}
    for i, entity_id in enumerate(_items(options, "lights", problems)):
        name = _name(entity_id, index("lights", i), problems, lights)
        lights[name] = {"home_assistant": entity_id}
        places[child(child("lights", name), "home_assistant")] = index("lights", i)
    speakers: dict[str, Any] = {}
    for i, entry in enumerate(_items(options, "speakers", problems)):
        where = index("speakers", i)
        player = entry.get("media_player") if isinstance(entry, dict) else None
        name = _name(player, child(where, "media_player"), problems, speakers)
        speakers[name] = {"home_assistant": _speaker(entry, options, where, problems)}
        places[child(child("speakers", name), "home_assistant")] = where
    buttons: dict[str, Any] = {}
    started: dict[str, list[str]] = {routine: [] for routine in routines}
    for i, entry in enumerate(_items(options, "buttons", problems)):
        where = index("buttons", i)
        device = entry.get("zigbee2mqtt") if isinstance(entry, dict) else None
        routine = entry.get("routine") if isinstance(entry, dict) else None
        name = _name(device, child(where, "zigbee2mqtt"), problems, buttons, whole=True)
        buttons[name] = {"zigbee2mqtt": device}
        places[child("buttons", name)] = where
        if routine is None:
            routine = _unnamed(routines, options.get("language"))
        if routine in started:
            started[routine].append(name)
        elif routine is None:
            problems.append(f"{where}.routine: say which routine this button starts ({_known(routines)})")
        else:
            problems.append(
                f"{where}.routine: no routine {quote(str(routine))}{hint(str(routine), routines)}"
            )
    if problems:
        raise OptionsError([f"add-on option {problem}" for problem in problems])
    document: dict[str, Any] = {
        "journal": str(addon.data / "homeflow.db"),
        "cache": str(addon.data / "cache"),
        "routines": str(addon.config / "routines"),
        "home_assistant": {"url": f"{addon.supervisor}/core", "token": _Secret("ha_token")},
        "http": {"bind": "0.0.0.0", "port": HTTP_PORT, "token": _Secret("http_token")},
        "lights": lights,
        "speakers": speakers,
        "buttons": buttons,
        "automations": [
            {
                "routine": routine,
                "when": [{"button": button} for button in started[routine]],
                "lights": list(lights),
                "speakers": list(speakers),
            }
            for routine in routines
        ],
    }
    if "zigbee2mqtt_base_topic" in options:
        document["zigbee2mqtt"] = {"base_topic": options["zigbee2mqtt_base_topic"]}
    return document, places


def _items(options: dict[str, Any], key: str, problems: list[str]) -> list[Any]:
    items = options.get(key, [])
    if not isinstance(items, list):
        problems.append(f"{key}: expected a list, got {jsontext.dumps(items)[:60]}")
        return []
    return items


def _name(
    value: object, where: str, problems: list[str], taken: dict[str, Any], *, whole: bool = False
) -> str:
    """A device's name in homeflow's settings: an entity id's object id, or the whole text."""
    if not isinstance(value, str) or not value:
        problems.append(f"{where}: expected text, got {jsontext.dumps(value)[:60]}")
        return f"#{len(problems)}"
    name = value if whole else value.partition(".")[2] or value
    if name in taken:
        problems.append(f"{where}: {quote(value)} is listed twice")
    return name


def _speaker(entry: Any, options: dict[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
    """A Home Assistant media player spoken to with `tts.speak`, in the options' language and voice."""
    speaker = {k: v for k, v in entry.items() if v not in (None, "")} if isinstance(entry, dict) else {}
    speaker.setdefault("tts", options.get("tts"))
    if speaker["tts"] is None:
        problems.append(f"{where}.tts: no TTS entity: set tts (e.g. tts.piper) here or for all speakers")
    if "language" in options:
        speaker["language"] = options["language"]
    if "voice" in options:
        speaker["options"] = {"voice": options["voice"]}
    return speaker


def _unnamed(routines: list[str], language: object) -> str | None:
    """The routine of a button that names none: the only one; else the bundled back massage, in German
    when the add-on's `language` is German (`de`, `de-DE`), if the folder still holds it."""
    if len(routines) == 1:
        return routines[0]
    german = isinstance(language, str) and language.lower()[:2] == "de"
    bundled = "back-massage-de" if german else "back-massage"
    return bundled if bundled in routines else None


def _known(routines: list[str]) -> str:
    return "known: " + ", ".join(routines) if routines else "there are no routines"


def _load(document: dict[str, Any], values: dict[str, str], places: dict[str, str]) -> Settings:
    """Load `document` as homeflow.yaml beside `values` as secrets.yaml, written to a private folder."""
    with tempfile.TemporaryDirectory(prefix="homeflow-addon-") as folder:  # created mode 0700
        config = Path(folder) / "homeflow.yaml"
        config.write_text("".join(f"{key}: {_flow(value)}\n" for key, value in document.items()))
        secret = os.open(Path(folder) / "secrets.yaml", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(secret, "w") as out:
            out.write("".join(f"{key}: {jsontext.dumps(value)}\n" for key, value in values.items()))
        try:
            return load(config)
        except SettingsError as exc:
            lines = [
                _option_problem(str(p), p.key_path, p.message, places, p.file.startswith(folder))
                for p in exc.problems
            ]
            raise OptionsError(lines) from None


def _option_problem(line: str, key_path: str, message: str, places: dict[str, str], ours: bool) -> str:
    """A problem in the written settings, told by the option it came from; others (routine files) as
    they are."""
    if not ours:
        return line
    for place in sorted(places, key=len, reverse=True):
        if key_path == place or key_path.startswith((place + ".", place + "[")):
            return f"add-on option {places[place]}{key_path[len(place) :]}: {message}"
    return f"settings made from the add-on options: {key_path}: {message}"


def _flow(value: object) -> str:
    """`value` as one line of YAML: JSON, which is YAML, and `!secret NAME` for secrets."""
    if isinstance(value, _Secret):
        return f"!secret {value.name}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{jsontext.dumps(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return jsontext.dumps(value)
