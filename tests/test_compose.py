"""docker-compose.yml, its Dockerfile and mounted files agree with each other and with homeflow's settings.

No Docker engine runs here: these checks read the files the engine would read."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from homeflow.settings import load

from .conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
TOKEN = "compose-token-0123456789"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read-only) of each short-syntax volume."""
    found = []
    for spec in service.get("volumes", []):
        source, target, *mode = spec.split(":")
        found.append((source, target, mode == ["ro"]))
    return found


def host_path(service: dict[str, Any], container_path: str) -> Path:
    """The file in the repository that a bind mount shows at `container_path` inside the container."""
    wanted = PurePosixPath(container_path)
    for source, target, _ in mounts(service):
        if source.startswith(".") and wanted.is_relative_to(target):
            return (REPO / source / wanted.relative_to(target)).resolve()
    raise AssertionError(f"nothing is mounted at {container_path}")


def test_services_images_and_profiles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"mosquitto", "homeflow", "homeassistant"}
    assert services["mosquitto"]["image"] == "eclipse-mosquitto:2"
    assert services["homeflow"]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert services["homeassistant"]["image"] == "ghcr.io/home-assistant/home-assistant:stable"
    assert services["homeassistant"]["profiles"] == ["homeassistant"]
    assert "profiles" not in services["mosquitto"]
    assert "profiles" not in services["homeflow"]
    assert services["homeflow"]["depends_on"]["mosquitto"]["condition"] == "service_healthy"


def test_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    # The anonymous broker is published on the host's loopback only.
    assert services["mosquitto"]["ports"] == ["127.0.0.1:1883:1883"]
    assert services["homeflow"]["ports"] == ["8765:8765"]
    assert services["homeassistant"]["ports"] == ["8123:8123"]


def test_every_mounted_host_path_exists_and_config_is_read_only(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for source, target, read_only in mounts(service):
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {source} is not in the repository"
                assert read_only, f"{name}: {source} should be mounted read-only"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
            assert target.startswith("/")
    assert ("homeflow-data", "/data", False) in mounts(compose["services"]["homeflow"])


def test_mosquitto_config_listens_where_homeflow_connects(compose: dict[str, Any]) -> None:
    conf = host_path(compose["services"]["mosquitto"], "/mosquitto/config/mosquitto.conf")
    lines = conf.read_text(encoding="utf-8").splitlines()
    assert "listener 1883" in lines
    assert "set_tcp_nodelay true" in lines
    if "allow_anonymous true" in lines:
        assert lines[lines.index("allow_anonymous true") - 1].startswith("#"), "say why anonymous is allowed"


def test_the_mounted_homeflow_config_loads(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    homeflow = compose["services"]["homeflow"]
    config_path = homeflow["environment"]["HOMEFLOW_CONFIG"]
    assert "HOMEFLOW_HTTP_TOKEN" in homeflow["environment"]
    monkeypatch.setenv("HOMEFLOW_HTTP_TOKEN", TOKEN)
    settings = load(host_path(homeflow, config_path))
    assert (settings.mqtt.host, settings.mqtt.port) == ("mosquitto", 1883)
    assert (settings.http.bind, settings.http.port, settings.http.token) == ("0.0.0.0", 8765, TOKEN)
    # The journal and the speech cache must outlive the container: both on the data volume.
    assert settings.journal.is_relative_to("/data")
    assert settings.cache_dir.is_relative_to("/data")
    assert "back-massage" in settings.routines


def test_healthcheck_asks_the_api(compose: dict[str, Any]) -> None:
    check = " ".join(compose["services"]["homeflow"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8765/api/health" in check
    assert "mosquitto_sub" in compose["services"]["mosquitto"]["healthcheck"]["test"]


def test_dockerfile_installs_speech_and_the_package() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    install = re.search(r"apt-get install[^\n]*(?:\\\n[^\n]*)*", dockerfile)
    assert install is not None
    assert "espeak-ng" in install.group() and "alsa-utils" in install.group()
    assert "pip install --no-cache-dir ." in dockerfile
    assert re.search(r"^USER homeflow$", dockerfile, re.MULTILINE)
    # What the image copies must exist, or the build fails.
    for copied in re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE):
        for name in copied.split():
            assert (REPO / name).exists(), name
