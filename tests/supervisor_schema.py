"""The rules the Home Assistant Supervisor checks an add-on by, copied from its source (home-assistant/
supervisor at 090ef31e, August 2026: supervisor/apps/validate.py, apps/options.py, validate.py,
store/validate.py, const.py), so the tests need nothing beyond this file. Each check returns the
problems it finds as lines; stricter than the Supervisor in one way: a key it does not know is a
problem here (the Supervisor drops it silently, which hides a typo)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

# supervisor/const.py
ARCH_ALL = ("aarch64", "amd64")
ARCH_DEPRECATED = ("armhf", "armv7", "i386")
ROLES = ("default", "homeassistant", "backup", "manager", "admin")
STARTUP = ("initialize", "system", "services", "application", "once")
BOOT = ("auto", "manual", "manual_only")
STAGE = ("stable", "experimental", "deprecated")
DOCKER_NETWORK = ipaddress.ip_network("172.30.32.0/23")  # DOCKER_IPV4_NETWORK_MASK
SUPERVISOR_ADDRESS = str(DOCKER_NETWORK[2])  # DockerNetwork.supervisor: the Ingress proxy's address
INGRESS_DYNAMIC_PORTS = range(62000, 65501)
# supervisor/apps/const.py
MAP_TYPES = ("data", "config", "ssl", "local_apps", "backup", "share", "media", "homeassistant_config",
             "all_app_configs", "app_config", "addons", "all_addon_configs", "addon_config")  # fmt: skip
RE_SLUG = r"[-_.A-Za-z0-9]+"
# supervisor/apps/validate.py
RE_VOLUME = re.compile(
    r"^(data|config|ssl|local_apps|addons|backup|share|media|homeassistant_config|all_app_configs"
    r"|all_addon_configs|app_config|addon_config)(?::(rw|ro))?$"
)
RE_SERVICE = re.compile(r"^(?P<service>mqtt|mysql):(?P<rights>provide|want|need)$")
RE_DOCKER_IMAGE_BUILD = re.compile(r"^([a-zA-Z\-\.:\d{}]+/)*?([\-\w{}]+)/([\-\w{}]+)(:[\.\-\w{}]+)?$")
RE_WATCHDOG = re.compile(r"^(?:https?|\[PROTO:\w+\]|tcp):\/\/\[HOST\]:(\[PORT:\d+\]|\d+).*$")
RE_WEBUI = re.compile(r"^(?:https?|\[PROTO:\w+\]):\/\/\[HOST\]:\[PORT:\d+\].*$")
# supervisor/validate.py
RE_DOCKER_PORT = re.compile(r"^\d+(?:/tcp|/udp)?$")
RE_IMAGE_PATH_COMPONENT = re.compile(r"^[a-z0-9{][a-z0-9.\-_{}]*$")
# supervisor/apps/options.py: the syntax of one option's type in `schema`
RE_SCHEMA_ELEMENT = re.compile(
    r"^(?:"
    r"|bool"
    r"|email"
    r"|url"
    r"|port"
    r"|device(?:\((?P<filter>subsystem=[a-z]+)\))?"
    r"|str(?:\((?P<s_min>\d+)?,(?P<s_max>\d+)?\))?"
    r"|password(?:\((?P<p_min>\d+)?,(?P<p_max>\d+)?\))?"
    r"|int(?:\((?P<i_min>-?\d+)?,(?P<i_max>-?\d+)?\))?"
    r"|float(?:\((?P<f_min>-?\d*\.?\d+)?,(?P<f_max>-?\d*\.?\d+)?\))?"
    r"|match\((?P<match>.*)\)"
    r"|list\((?P<list>.+)\)"
    r")\??$"
)

Check = Callable[[Any, str], list[str]]


def _is(kind: type | tuple[type, ...], what: str) -> Check:
    def check(value: Any, where: str) -> list[str]:
        ok = isinstance(value, kind) and not (isinstance(value, bool) and bool not in _types(kind))
        return [] if ok else [f"{where}: expected {what}, got {value!r}"]

    return check


def _types(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _one_of(choices: tuple[str, ...]) -> Check:
    return lambda value, where: [] if value in choices else [f"{where}: {value!r} is not one of {choices}"]


def _matches(pattern: re.Pattern[str]) -> Check:
    def check(value: Any, where: str) -> list[str]:
        ok = isinstance(value, str) and pattern.match(value)
        return [] if ok else [f"{where}: {value!r} does not match {pattern.pattern}"]

    return check


def _list_of(item: Check) -> Check:
    def check(value: Any, where: str) -> list[str]:
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {value!r}"]
        return [problem for i, entry in enumerate(value) for problem in item(entry, f"{where}[{i}]")]

    return check


def _port(value: Any, where: str) -> list[str]:
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535
    return [] if ok else [f"{where}: expected a port from 1 to 65535, got {value!r}"]


def _url(value: Any, where: str) -> list[str]:
    parts = urlsplit(value) if isinstance(value, str) else None
    return [] if parts and parts.scheme and parts.netloc else [f"{where}: expected a URL, got {value!r}"]


def _version(value: Any, where: str) -> list[str]:
    # AwesomeVersion takes any text; a bare YAML number (0.1) is one too, but "0.10" would lose its zero.
    return [] if isinstance(value, str) and value else [f"{where}: write the version as text, got {value!r}"]


def _ports(value: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected a mapping of ports, got {value!r}"]
    problems = [
        f"{where}: {key!r} is not a port like 8080/tcp" for key in value if not RE_DOCKER_PORT.match(str(key))
    ]
    return problems + [p for k, v in value.items() if v is not None for p in _port(v, f"{where}.{k}")]


def _map_entry(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [] if RE_VOLUME.match(value) else [f"{where}: {value!r} is not a folder to map"]
    if not isinstance(value, dict) or "type" not in value:
        return [f"{where}: expected a folder name or a mapping with `type`, got {value!r}"]
    keys = {"type": _one_of(MAP_TYPES), "read_only": _is(bool, "true or false"), "path": _is(str, "text")}
    return _mapping(value, where, keys)


def _schema_element(value: Any, where: str, *, in_list: bool = False) -> list[str]:
    """SCHEMA_ELEMENT: a type, a list of one type or mapping (a list may not hold a list), or a mapping."""
    if isinstance(value, str):
        return [] if RE_SCHEMA_ELEMENT.match(value) else [f"{where}: {value!r} is not an option type"]
    if isinstance(value, list) and not in_list:
        if len(value) != 1:
            return [f"{where}: a list option gives the type of its items once, got {value!r}"]
        return _schema_element(value[0], f"{where}[0]", in_list=True)
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _schema_element(item, f"{where}.{key}")]
    return [f"{where}: expected an option type, a list of one or a mapping, got {value!r}"]


def _schema(value: Any, where: str) -> list[str]:
    if value is False:
        return []
    if not isinstance(value, dict):
        return [f"{where}: expected a mapping of options to types, or false, got {value!r}"]
    return [p for key, item in value.items() for p in _schema_element(item, f"{where}.{key}")]


def _image(value: Any, where: str) -> list[str]:
    if not isinstance(value, str) or ":" in value.rpartition("/")[2]:
        return [f"{where}: expected an image name without tag, got {value!r}"]
    components = value.split("/")[1:] if "." in value.split("/")[0] else value.split("/")
    bad = [c for c in components if not RE_IMAGE_PATH_COMPONENT.match(c)]
    return [f"{where}: {c!r} is not an image path component" for c in bad]


def _timeout(value: Any, where: str) -> list[str]:
    ok = isinstance(value, int) and not isinstance(value, bool) and 10 <= value <= 300
    return [] if ok else [f"{where}: expected seconds from 10 to 300, got {value!r}"]


_BOOL, _STR = _is(bool, "true or false"), _is(str, "text")
# _SCHEMA_APP_CONFIG: every key the Supervisor knows in an add-on's config.yaml, and its type.
APP_CONFIG: dict[str, Check] = {
    "name": _STR,
    "version": _version,
    "slug": _matches(re.compile(r"^" + RE_SLUG + r"$")),
    "description": _STR,
    "arch": _list_of(_one_of(ARCH_ALL + ARCH_DEPRECATED)),
    "machine": _list_of(_STR),
    "url": _url,
    "startup": _one_of(STARTUP),
    "boot": _one_of(BOOT),
    "init": _BOOL,
    "advanced": _BOOL,
    "stage": _one_of(STAGE),
    "ports": _ports,
    "ports_description": _is(dict, "a mapping of ports to text"),
    "watchdog": _matches(RE_WATCHDOG),
    "webui": _matches(RE_WEBUI),
    "ingress": _BOOL,
    "ingress_port": lambda v, w: [] if v == 0 else _port(v, w),
    "ingress_entry": _STR,
    "ingress_stream": _BOOL,
    "panel_icon": _STR,
    "panel_title": _STR,
    "panel_admin": _BOOL,
    "homeassistant": _version,
    **{key: _BOOL for key in ("host_network", "host_pid", "host_ipc", "host_uts", "host_dbus")},
    "devices": _list_of(_STR),
    "udev": _BOOL,
    "tmpfs": _BOOL,
    "map": _list_of(_map_entry),
    "environment": _is(dict, "a mapping of names to text"),
    "privileged": _list_of(_STR),
    "apparmor": _BOOL,
    **{key: _BOOL for key in ("full_access", "audio", "video", "gpio", "usb", "uart", "devicetree")},
    **{key: _BOOL for key in ("kernel_modules", "realtime", "hassio_api", "homeassistant_api", "stdin")},
    "hassio_role": _one_of(ROLES),
    **{key: _BOOL for key in ("legacy", "docker_api", "auth_api", "journald")},
    "services": _list_of(_matches(RE_SERVICE)),
    "discovery": _list_of(_STR),
    "backup_exclude": _list_of(_STR),
    "backup_pre": _STR,
    "backup_post": _STR,
    "backup": _one_of(("hot", "cold")),
    "options": _is(dict, "a mapping of option values"),
    "schema": _schema,
    "image": _image,
    "ulimits": _is(dict, "a mapping of limits"),
    "timeout": _timeout,
    "breaking_versions": _list_of(_version),
}
APP_CONFIG_REQUIRED = ("name", "version", "slug", "description", "arch")
# SCHEMA_BUILD_CONFIG (build.yaml)
BUILD_CONFIG: dict[str, Check] = {
    "build_from": lambda v, w: (
        _matches(RE_DOCKER_IMAGE_BUILD)(v, w)
        if isinstance(v, str)
        else _mapping(v, w, {arch: _matches(RE_DOCKER_IMAGE_BUILD) for arch in ARCH_ALL + ARCH_DEPRECATED})
    ),
    "squash": _BOOL,
    "args": lambda v, w: (
        _mapping(v, w, {str(k): _STR for k in v}) if isinstance(v, dict) else [f"{w}: {v!r}"]
    ),
    "labels": lambda v, w: (
        _mapping(v, w, {str(k): _STR for k in v}) if isinstance(v, dict) else [f"{w}: {v!r}"]
    ),
}
# SCHEMA_REPOSITORY_CONFIG (repository.yaml)
REPOSITORY_CONFIG: dict[str, Check] = {"name": _STR, "url": _url, "maintainer": _STR}


def _translation(value: Any, where: str) -> list[str]:
    """SCHEMA_TRANSLATION_CONFIGURATION: a name, maybe a description, maybe fields of the same form."""
    if not isinstance(value, dict) or "name" not in value:
        return [f"{where}: expected a mapping with a name, got {value!r}"]
    description = _is((str, type(None)), "text")
    fields = {"name": _STR, "description": description, "fields": _translations}
    return _mapping(value, where, fields)


def _translations(value: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected a mapping, got {value!r}"]
    return [p for key, item in value.items() for p in _translation(item, f"{where}.{key}")]


# SCHEMA_APP_TRANSLATIONS (translations/<language>.yaml)
TRANSLATIONS: dict[str, Check] = {
    "configuration": _translations,
    "network": lambda v, w: (
        _mapping(v, w, {str(k): _STR for k in v}) if isinstance(v, dict) else [f"{w}: {v!r}"]
    ),
}


def _mapping(value: Any, where: str, keys: dict[str, Check], required: tuple[str, ...] = ()) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where or 'the file'}: expected a mapping, got {value!r}"]
    at = f"{where}." if where else ""
    problems = [f"{at}{key}: required" for key in required if key not in value]
    for key, item in value.items():
        check = keys.get(key)
        if check is None:
            problems.append(f"{at}{key}: not a key the Supervisor knows")
        else:
            problems += check(item, f"{at}{key}")
    return problems


def check_app_config(config: Any) -> list[str]:
    """config.yaml's problems, and those of `_warn_app_config` that stop the Supervisor or warn users."""
    problems = _mapping(config, "", APP_CONFIG, APP_CONFIG_REQUIRED)
    if not problems and isinstance(config, dict):
        problems += [f"arch: {a} is deprecated" for a in config.get("arch", []) if a in ARCH_DEPRECATED]
        if config.get("ingress") and config.get("ingress_port") == 0:
            for port in config.get("ports", {}):
                if int(str(port).partition("/")[0]) in INGRESS_DYNAMIC_PORTS:
                    problems.append(f"ports: {port} is in the range of dynamic Ingress ports")
    return problems


def check_build_config(config: Any) -> list[str]:
    return _mapping(config, "", BUILD_CONFIG)


def check_repository_config(config: Any) -> list[str]:
    return _mapping(config, "", REPOSITORY_CONFIG, ("name",))


def check_translations(translations: Any) -> list[str]:
    return _mapping(translations, "", TRANSLATIONS)


def check_options(schema: dict[str, Any], options: Any) -> list[str]:
    """AppOptions: the problems the Supervisor finds in `options` (the user's, or the defaults) against
    the add-on's `schema`; it ignores (and drops) options the schema does not name."""
    if not isinstance(options, dict):
        return ["options: expected a mapping"]
    problems = [
        p for key, value in options.items() if key in schema for p in _element(schema[key], value, key)
    ]
    return problems + _missing(schema, options, "options")


def _element(typ: Any, value: Any, key: str) -> list[str]:
    if isinstance(typ, list):
        if not isinstance(value, list):
            return [f"{key}: invalid list"]
        return [p for i, item in enumerate(value) for p in _element(typ[0], item, f"{key}[{i}]")]
    if isinstance(typ, dict):
        if not isinstance(value, dict):
            return [f"{key}: invalid dict"]
        found = [p for k, v in value.items() if k in typ for p in _element(typ[k], v, f"{key}.{k}")]
        return found + _missing(typ, value, key)
    return _single(typ, value, key)


def _missing(schema: dict[str, Any], given: dict[str, Any], where: str) -> list[str]:
    """An option not given is missing unless its type (for a list: its item's type) ends with `?`."""
    problems = []
    for key in set(schema) - set(given):
        typ = schema[key][0] if isinstance(schema[key], list) and schema[key] else schema[key]
        if not (isinstance(typ, str) and typ.endswith("?")):
            problems.append(f"{where}: missing option {key!r}")
    return problems


def _single(typ: str, value: Any, key: str) -> list[str]:
    if value is None:
        return [f"{key}: missing required option"]
    match = RE_SCHEMA_ELEMENT.match(typ)
    if match is None:
        return [f"{key}: unknown type {typ!r}"]
    bounds = {name[2:]: float(found) for name in ("i_min", "i_max", "f_min", "f_max", "s_min", "s_max",
              "p_min", "p_max") if (found := match.group(name))}  # fmt: skip
    bad = [f"{key}: {value!r} is not {typ}"]
    if typ.startswith(("str", "password")):
        return [] if isinstance(value, str) and _within(len(value), bounds) else bad
    if typ.startswith(("int", "float")):
        try:
            number = int(value) if typ.startswith("int") else float(value)
        except (TypeError, ValueError):
            return bad
        return [] if _within(number, bounds) else bad
    if typ.startswith("bool"):
        return [] if value in (True, False) or str(value).lower() in _BOOLEAN_WORDS else bad
    if typ.startswith("email"):
        return [] if isinstance(value, str) and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) else bad
    if typ.startswith("url"):
        return _url(value, key)
    if typ.startswith("port"):
        return _port(int(value) if str(value).isdigit() else value, key)
    if typ.startswith("match"):
        return [] if re.match(match.group("match"), str(value)) else bad
    if typ.startswith("list"):
        return [] if str(value) in match.group("list").split("|") else bad
    return [f"{key}: {typ} options are not checked here"]


_BOOLEAN_WORDS = ("1", "true", "yes", "on", "enable", "0", "false", "no", "off", "disable")


def _within(number: float, bounds: dict[str, float]) -> bool:
    return bounds.get("min", number) <= number <= bounds.get("max", number)
