"""The add-on's files as the Supervisor reads them: config.yaml, build.yaml, the translations and
repository.yaml pass its own rules (tests/supervisor_schema.py), the options' schema takes what homeflow
takes and refuses what it refuses, and the image only starts homeflow."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

import homeflow
from homeflow import addon

from . import supervisor_schema as supervisor
from .conftest import REPO
from .ha_schema import OLDEST_HOME_ASSISTANT
from .test_addon import OPTIONS

ADDON = REPO / "homeassistant-addon/homeflow"


def read(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded = read(ADDON / "config.yaml")
    assert isinstance(loaded, dict)
    return loaded


def test_config_yaml_passes_the_supervisors_schema(config: dict[str, Any]) -> None:
    assert supervisor.check_app_config(config) == []
    assert supervisor.check_options(config["schema"], config["options"]) == []  # a fresh install starts


def test_the_addon_asks_for_what_homeflow_uses(config: dict[str, Any]) -> None:
    assert config["version"] == homeflow.__version__
    assert config["version"] == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert config["services"] == ["mqtt:need"]  # the broker, from the Supervisor
    assert config["homeassistant_api"] is True  # http://supervisor/core with SUPERVISOR_TOKEN
    assert config["homeassistant"] == OLDEST_HOME_ASSISTANT  # the Supervisor installs it on no older one
    assert config["ingress"] is True and config["ingress_port"] == addon.HTTP_PORT
    assert addon.INGRESS_PROXY == supervisor.SUPERVISOR_ADDRESS
    assert config["ports"] == {f"{addon.HTTP_PORT}/tcp": None}  # the port without Ingress: off until mapped
    assert config["map"] == ["addon_config:rw"]  # /config: the routines, to edit
    assert set(config["schema"]) == set(addon.OPTIONS)
    assert set(config["options"]) <= set(config["schema"])


def test_the_schema_takes_the_options_homeflow_takes(config: dict[str, Any]) -> None:
    assert supervisor.check_options(config["schema"], OPTIONS) == []


@pytest.mark.parametrize(
    "options",
    [
        {"lights": ["desk"]},
        {"speakers": [{"tts": "tts.piper"}]},
        {"speakers": [{"media_player": "media_player.kitchen", "volume": 2}]},
        {"tts": "piper"},
        {"buttons": [{"routine": "back-massage"}]},
        {"buttons": [{"zigbee2mqtt": "Button", "routine": "Back Massage"}]},
    ],
)
def test_the_schema_refuses_what_homeflow_refuses(config: dict[str, Any], options: dict[str, Any]) -> None:
    assert supervisor.check_options(config["schema"], {**config["options"], **options}) != []


def test_every_option_type_is_one_the_supervisor_knows(config: dict[str, Any]) -> None:
    def types(schema: Any) -> list[str]:
        if isinstance(schema, dict):
            return [t for item in schema.values() for t in types(item)]
        if isinstance(schema, list):
            return types(schema[0])
        return [schema]

    for typ in types(config["schema"]):
        match = supervisor.RE_SCHEMA_ELEMENT.match(typ)
        assert match, typ
        if match.group("match"):
            re.compile(match.group("match"))


def test_the_translations_name_every_option_and_port(config: dict[str, Any]) -> None:
    translations = read(ADDON / "translations/en.yaml")
    assert supervisor.check_translations(translations) == []
    described = translations["configuration"]
    assert set(described) == set(config["schema"])
    for key, typ in config["schema"].items():
        if isinstance(typ, list) and isinstance(typ[0], dict):
            assert set(described[key]["fields"]) == set(typ[0]), key
    assert set(translations["network"]) == set(config["ports"])


def test_build_yaml_and_the_dockerfile(config: dict[str, Any]) -> None:
    build = read(ADDON / "build.yaml")
    assert supervisor.check_build_config(build) == []
    assert set(build["build_from"]) == set(config["arch"])
    for arch, image in build["build_from"].items():
        assert image.startswith(f"ghcr.io/home-assistant/{arch}-base-python:"), image
    dockerfile = (ADDON / "Dockerfile").read_text()
    assert "FROM ${BUILD_FROM}" in dockerfile
    assert "apk add --no-cache espeak-ng" in dockerfile
    assert set(build["args"]) == set(re.findall(r"^ARG (\w+)$", dockerfile, re.MULTILINE)) - {"BUILD_FROM"}
    assert dockerfile.rstrip().endswith('CMD ["/run.sh"]')


def test_the_entry_only_starts_homeflow() -> None:
    lines = (ADDON / "run.sh").read_text().splitlines()
    assert lines[0] == "#!/usr/bin/with-contenv bashio"
    assert [line for line in lines if line and not line.startswith("#")] == ["exec homeflow run"]
    assert (ADDON / "run.sh").stat().st_mode & 0o111


def test_the_repository_is_an_addon_repository_with_this_addon_only() -> None:
    """The Supervisor reads repository.yaml at the root of the repository it clones, and takes every
    `config.(yaml|yml|json)` below it, outside dot-folders and `rootfs`, for an add-on."""
    assert supervisor.check_repository_config(read(REPO / "repository.yaml")) == []
    found = [
        path.relative_to(REPO)
        for path in REPO.glob("**/config.*")
        if path.suffix in (".yaml", ".yml", ".json")
        and not any(part.startswith(".") or part == "rootfs" for part in path.relative_to(REPO).parts)
    ]
    assert found == [Path("homeassistant-addon/homeflow/config.yaml")]
    assert (ADDON / "DOCS.md").is_file()
