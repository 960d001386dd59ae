"""Out of the box: which settings run when none are given, `homeflow init`, and the virtual light."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from homeflow.defaults import BUNDLED, ROUTINES, data_dir, load_settings, settings_file
from homeflow.devices.lights.virtual import VirtualLight
from homeflow.routine.model import Ambience
from homeflow.settings import SettingsError, load
from homeflow.settings.model import VirtualLight as VirtualLightSettings

from .conftest import REPO


def homeflow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "homeflow.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory without config/, no $HOMEFLOW_CONFIG, and a data home of its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOMEFLOW_CONFIG", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def test_settings_file_is_option_then_environment_then_local_then_bundled(
    nowhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings_file(None) == BUNDLED
    (nowhere / "config").mkdir()
    (nowhere / "config" / "homeflow.yaml").write_text("")
    assert settings_file(None) == Path("config/homeflow.yaml")
    monkeypatch.setenv("HOMEFLOW_CONFIG", "/elsewhere.yaml")
    assert settings_file(None) == Path("/elsewhere.yaml")
    assert settings_file(Path("given.yaml")) == Path("given.yaml")


def test_bundled_settings_keep_their_journal_in_the_user_data_dir(nowhere: Path) -> None:
    settings = load_settings(None)
    assert settings.path == BUNDLED
    assert settings.journal == nowhere / "data" / "homeflow" / "homeflow.db"
    assert settings.cache_dir == nowhere / "data" / "homeflow" / "cache"
    assert settings.mqtt.embedded and settings.mqtt.port == 1883
    assert settings.lights == {"room": VirtualLightSettings("room")}
    assert list(settings.routines) == ["back-massage", "back-massage-de"]
    assert [a.routine for a in settings.automations] == ["back-massage", "back-massage-de"]
    assert settings.routines_dir == ROUTINES


def test_data_dir_ignores_a_relative_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")
    assert data_dir() == tmp_path / ".local" / "share" / "homeflow"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert data_dir() == tmp_path / ".local" / "share" / "homeflow"


def test_the_repository_example_runs_the_bundled_routine_file() -> None:
    # The example settings read the bundled file; docker compose reads ./routines beside its file (the
    # user's own folder), which starts as the bundled routine, byte for byte.
    for config, folder in (
        ("config/homeflow.yaml", ROUTINES),
        ("config/docker/homeflow.yaml", REPO / "routines"),
    ):
        text = (REPO / config).read_text()
        routines = yaml.safe_load(text.replace("!env", ""))["routines"]
        assert (REPO / config).parent.joinpath(routines).resolve() == folder
    bundled = sorted(p.name for p in ROUTINES.iterdir())
    assert bundled == ["back-massage-de.yaml", "back-massage.yaml"]
    assert sorted(p.name for p in (REPO / "routines").iterdir()) == bundled
    for name in bundled:
        assert (REPO / "routines" / name).read_bytes() == (ROUTINES / name).read_bytes()
    assert not (REPO / "config" / "routines").exists()


def test_init_writes_settings_that_check_accepts(tmp_path: Path) -> None:
    result = homeflow("init", "mine", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "mine"
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "homeflow.yaml",
        "routines/back-massage-de.yaml",
        "routines/back-massage.yaml",
        "secrets.yaml",
    ]
    assert "homeflow run -c mine/homeflow.yaml" in result.stdout
    assert (folder / "routines" / "back-massage.yaml").read_bytes() == (
        ROUTINES / "back-massage.yaml"
    ).read_bytes()
    assert stat.S_IMODE((folder / "secrets.yaml").stat().st_mode) == 0o600
    assert "# " in (folder / "homeflow.yaml").read_text()  # commented, to be read

    checked = homeflow("check", "-c", "mine/homeflow.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "2 routines (back-massage: 10 steps, back-massage-de: 10 steps)" in checked.stdout
    settings = load(folder / "homeflow.yaml")
    token = yaml.safe_load((folder / "secrets.yaml").read_text())["http_token"]
    assert settings.http.token == token and len(token) == 32
    assert settings.journal == folder / "homeflow.db"

    homeflow("init", "other", cwd=tmp_path)
    assert yaml.safe_load((tmp_path / "other" / "secrets.yaml").read_text())["http_token"] != token


def test_init_refuses_to_overwrite_anything(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    (folder / "routines").mkdir(parents=True)
    (folder / "routines" / "back-massage.yaml").write_text("my own\n")
    result = homeflow("init", "mine", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "homeflow: mine/routines/back-massage.yaml already exists; not overwriting it "
        "(choose another folder or move it)"
    ]
    assert sorted(p.name for p in folder.rglob("*")) == ["back-massage.yaml", "routines"]
    assert (folder / "routines" / "back-massage.yaml").read_text() == "my own\n"


def test_init_into_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    result = homeflow("init", "taken", cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(
        "homeflow: cannot write to taken: "
    )


def test_embedded_broker_and_virtual_light_settings(tmp_path: Path) -> None:
    path = tmp_path / "homeflow.yaml"
    path.write_text("mqtt: {embedded: true, port: 1884}\nlights: {room: {virtual: {}}, hall: {virtual: }}\n")
    settings = load(path)
    assert (settings.mqtt.embedded, settings.mqtt.host, settings.mqtt.port) == (True, "127.0.0.1", 1884)
    assert settings.lights == {"room": VirtualLightSettings("room"), "hall": VirtualLightSettings("hall")}

    path.write_text(
        "mqtt: {embedded: yes please, host: broker.lan, tls: true}\nlights: {room: {virtual: {dim: 1}}}\n"
    )
    with pytest.raises(SettingsError) as caught:
        load(path)
    problems = [str(p).removeprefix(f"{path}:") for p in caught.value.problems]
    assert problems[0] == '1:18: mqtt.embedded: expected true or false, got "yes please"'
    assert len(problems) == 2 and problems[1] == '2:27: lights.room.virtual.dim: unknown key "dim"'

    path.write_text("mqtt: {embedded: true, host: broker.lan, tls: true}\n")
    with pytest.raises(SettingsError) as caught:
        load(path)
    assert [str(p).removeprefix(f"{path}:") for p in caught.value.problems] == [
        "1:30: mqtt.host: with embedded: true the broker is on 127.0.0.1; drop host",
        "1:47: mqtt.tls: the embedded broker speaks plain MQTT on loopback; drop tls",
    ]


async def test_virtual_light_dims_restores_and_tells_its_watchers() -> None:
    light = VirtualLight("room")
    seen: list[dict[str, object]] = []

    light.watch(lambda: seen.append(light.shown()))
    before = await light.snapshot()
    await light.apply(Ambience(35, 4.0, 2700))
    await light.apply(Ambience(50, 10.0, None))  # no colour asked: the colour stays
    await light.restore(before, 2.0)
    assert seen == [
        {"state": "ON", "brightness": 35, "color_temp": 2700, "transition": 4.0},
        {"state": "ON", "brightness": 50, "color_temp": 2700, "transition": 10.0},
        {"state": "ON", "brightness": 100, "color_temp": 4000, "transition": 2.0},
    ]
    await light.restore({}, 1.0)  # an empty snapshot (nothing known before) changes nothing
    assert len(seen) == 3
    await light.restore({"state": "OFF"}, 0.0)
    assert light.shown()["state"] == "OFF"
