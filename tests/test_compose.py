"""docker-compose.yml, its Dockerfile and mounted files agree with each other and with homeflow's settings.

No Docker engine runs here: these checks read the files the engine would read."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from homeflow.settings import load

from .conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
README = REPO / "README.md"
TOKEN = "compose-token-0123456789"
# What a home with its own broker puts in .env (besides the token).
BROKER_ENV = {
    "MQTT_HOST": "broker.lan",
    "MQTT_PORT": "1884",
    "MQTT_USERNAME": "homeflow",
    "MQTT_PASSWORD": "pw",
}
VARIABLE = re.compile(r"\$\{(?P<name>[A-Z_]+)(?P<how>:[-?])?(?P<rest>[^}]*)\}")


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
    # The bundled broker is opt-in: by default homeflow joins the home's own.
    assert services["mosquitto"]["profiles"] == ["mosquitto"]
    assert "profiles" not in services["homeflow"]
    assert services["homeflow"]["depends_on"]["mosquitto"] == {
        "condition": "service_healthy",
        "required": False,
    }


def test_a_default_up_starts_nothing_it_depends_on_that_is_off(compose: dict[str, Any]) -> None:
    """`docker compose up` refuses a dependency on a service whose profile is off unless it is not
    required: every dependency of a service that runs by default is on by default, or optional."""
    services = compose["services"]
    for name, service in services.items():
        if "profiles" in service:
            continue
        depends = service.get("depends_on", {})
        depends = {key: {} for key in depends} if isinstance(depends, list) else depends
        for other, how in depends.items():
            assert "profiles" not in services[other] or how.get("required") is False, f"{name} needs {other}"


def test_the_broker_comes_from_dot_env(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    found = {m["name"]: (m["how"], m["rest"]) for m in VARIABLE.finditer(text)}
    # Only the token and the broker's address must be in .env; the rest have defaults.
    assert {name for name, (how, _) in found.items() if how == ":?"} == {"HOMEFLOW_HTTP_TOKEN", "MQTT_HOST"}
    assert found["MQTT_PORT"] == (":-", "1883")
    assert found["MQTT_USERNAME"] == found["MQTT_PASSWORD"] == (":-", "")
    environment = compose["services"]["homeflow"]["environment"]
    for name in BROKER_ENV:
        assert VARIABLE.fullmatch(environment[name])["name"] == name  # type: ignore[index]
    # Every variable is explained where the README tells how to run the compose file.
    section = README.read_text(encoding="utf-8").split("## Docker compose", 1)[1].split("\n## ", 1)[0]
    for name in found:
        assert name in section, f"{name} is not in the README's Docker compose section"


def test_routines_mount_from_the_folder_beside_the_compose_file(compose: dict[str, Any]) -> None:
    homeflow = compose["services"]["homeflow"]
    assert ("./routines", "/routines", True) in mounts(homeflow)
    assert not any("homeflow/defaults" in source for source, _, _ in mounts(homeflow))
    # Where the mounted settings look for routines, inside the container, is that mount.
    config = PurePosixPath(homeflow["environment"]["HOMEFLOW_CONFIG"])
    written = yaml.safe_load(host_path(homeflow, str(config)).read_text().replace("!env", ""))["routines"]
    inside = PurePosixPath(os.path.normpath(config.parent / written))
    assert inside == PurePosixPath("/routines")
    assert host_path(homeflow, "/routines") == REPO / "routines"


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
    for name, value in BROKER_ENV.items():
        monkeypatch.setenv(name, value)
    settings = load(host_path(homeflow, config_path))
    mqtt = settings.mqtt
    assert (mqtt.host, mqtt.port, mqtt.username, mqtt.password) == ("broker.lan", 1884, "homeflow", "pw")
    assert (settings.http.bind, settings.http.port, settings.http.token) == ("0.0.0.0", 8765, TOKEN)
    # The journal and the speech cache must outlive the container: both on the data volume.
    assert settings.journal.is_relative_to("/data")
    assert settings.cache_dir.is_relative_to("/data")
    assert "back-massage" in settings.routines
    # The bundled broker, with no login: what compose passes for an unset MQTT_USERNAME is empty.
    monkeypatch.setenv("MQTT_HOST", "mosquitto")
    for name, value in (("MQTT_PORT", "1883"), ("MQTT_USERNAME", ""), ("MQTT_PASSWORD", "")):
        monkeypatch.setenv(name, value)
    mqtt = load(host_path(homeflow, config_path)).mqtt
    assert (mqtt.host, mqtt.port, mqtt.username, mqtt.password) == ("mosquitto", 1883, None, None)


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
    # With the postgres extra: one image for one homeflow and for several sharing PostgreSQL.
    assert 'pip install --no-cache-dir ".[postgres]"' in dockerfile
    assert re.search(r"^USER homeflow$", dockerfile, re.MULTILINE)
    # What the image copies must exist, or the build fails.
    for copied in re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE):
        for name in copied.split():
            assert (REPO / name).exists(), name


# -- docker-compose.rooms.yml: three homeflow, one PostgreSQL, one Mosquitto ---------------------------

ROOMS_COMPOSE = REPO / "docker-compose.rooms.yml"
INSTANCES = {"homeflow-a": "room-a", "homeflow-b": "room-b", "homeflow-c": "room-c"}
ROOMS_ENV = {"HOMEFLOW_HTTP_TOKEN": TOKEN, "POSTGRES_PASSWORD": "pg-secret"}


@pytest.fixture(scope="module")
def rooms() -> dict[str, Any]:
    loaded = yaml.safe_load(ROOMS_COMPOSE.read_text(encoding="utf-8"))  # `<<` merges x-homeflow in
    assert isinstance(loaded, dict)
    return loaded


def test_rooms_services_and_images(rooms: dict[str, Any]) -> None:
    services = rooms["services"]
    assert set(services) == {"postgres", "mosquitto", *INSTANCES}
    assert services["postgres"]["image"] == "postgres:17"
    assert services["mosquitto"]["image"] == "eclipse-mosquitto:2"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    for name in INSTANCES:
        homeflow = services[name]
        assert homeflow["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        assert homeflow["image"] == "homeflow:latest"
        assert homeflow["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "mosquitto": {"condition": "service_healthy"},
        }
        assert "http://127.0.0.1:8765/api/health" in " ".join(homeflow["healthcheck"]["test"])
        assert "profiles" not in homeflow


def test_rooms_ports_and_volumes(rooms: dict[str, Any]) -> None:
    services = rooms["services"]
    assert services["mosquitto"]["ports"] == ["127.0.0.1:1883:1883"]
    assert "ports" not in services["postgres"]  # reached over the compose network only
    published = [services[name]["ports"] for name in INSTANCES]
    assert published == [["8765:8765"], ["8766:8765"], ["8767:8765"]]  # a dashboard per instance
    declared = set(rooms["volumes"])
    data = []
    for name, service in services.items():
        for source, target, read_only in mounts(service):
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {source} is not in the repository"
                assert read_only, f"{name}: {source} should be mounted read-only"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
            if target == "/data":
                data.append(source)
    assert ("postgres-data", "/var/lib/postgresql/data", False) in mounts(services["postgres"])
    assert sorted(data) == ["homeflow-a-data", "homeflow-b-data", "homeflow-c-data"]  # a cache each


def test_rooms_each_instance_loads_the_mounted_config_as_itself(
    rooms: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = rooms["services"]
    postgres = services["postgres"]["environment"]
    listener = host_path(services["mosquitto"], "/mosquitto/config/mosquitto.conf").read_text()
    for name, value in ROOMS_ENV.items():
        monkeypatch.setenv(name, value)
    for service, instance in INSTANCES.items():
        environment = services[service]["environment"]
        assert environment["HOMEFLOW_INSTANCE"] == instance
        assert VARIABLE.fullmatch(environment["POSTGRES_PASSWORD"])["name"] == "POSTGRES_PASSWORD"  # type: ignore[index]
        monkeypatch.setenv("HOMEFLOW_INSTANCE", instance)
        settings = load(host_path(services[service], environment["HOMEFLOW_CONFIG"]))
        assert settings.cluster is not None
        assert settings.cluster.instance == instance
        assert set(settings.cluster.peers) == set(INSTANCES.values())  # every instance of the file
        assert settings.cluster.on_takeover == "resume"
        assert settings.mqtt.client_id == f"homeflow-{instance}"  # a client id each
        # The journal is the postgres service, as its environment makes it.
        journal = settings.journal
        assert not isinstance(journal, Path)
        user = postgres["POSTGRES_USER"]
        assert journal.url == f"postgresql://{user}@postgres:5432/{postgres['POSTGRES_DB']}"
        assert journal.password == ROOMS_ENV["POSTGRES_PASSWORD"]
        assert (settings.mqtt.host, settings.mqtt.port) == ("mosquitto", 1883)
        assert f"listener {settings.mqtt.port}" in listener.splitlines()
        assert (settings.http.bind, settings.http.port, settings.http.token) == ("0.0.0.0", 8765, TOKEN)
        assert settings.cache_dir.is_relative_to("/data")
        assert len(settings.routines) == len(settings.automations) == 3


def test_rooms_variables_are_explained_in_the_readme() -> None:
    text = ROOMS_COMPOSE.read_text(encoding="utf-8")
    found = {m["name"]: m["how"] for m in VARIABLE.finditer(text)}
    assert {name for name, how in found.items() if how == ":?"} == set(ROOMS_ENV)
    section = README.read_text(encoding="utf-8").split("## Many rooms", 1)[1].split("\n## ", 1)[0]
    assert "docker-compose.rooms.yml" in section
    for name in found:
        assert name in section, f"{name} is not in the README's Many rooms section"
