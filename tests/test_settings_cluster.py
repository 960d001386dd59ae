"""The `cluster` setting: this instance's name and every instance's, checked where they are written; a
cluster needs a PostgreSQL journal; the MQTT client id and status topic follow the instance's name."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from homeflow.settings import SettingsError, load
from homeflow.settings.loader import summary
from homeflow.settings.model import Cluster

from .conftest import REPO

URL = "postgresql://homeflow@127.0.0.1:5432/homeflow"


def config(folder: Path, text: str) -> Path:
    path = folder / "homeflow.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(path)
    return [str(problem) for problem in caught.value.problems]


def test_without_a_cluster_one_instance_keeps_todays_names(tmp_path: Path) -> None:
    settings = load(config(tmp_path, "mqtt: {client_id: hf, base_topic: home}\n"))
    assert settings.cluster is None
    assert settings.mqtt.client_id == "hf"
    assert settings.status_topic == "home/status"


def test_an_instance_has_its_own_client_id_and_status_topic(tmp_path: Path) -> None:
    settings = load(
        config(
            tmp_path,
            f"""\
            mqtt: {{client_id: hf, base_topic: home}}
            journal: {URL}
            cluster: {{instance: room-b, peers: [room-a, room-b]}}
            """,
        )
    )
    assert settings.cluster == Cluster("room-b", ("room-a", "room-b"), on_takeover="resume", lease_s=None)
    assert settings.mqtt.client_id == "hf-room-b"
    assert settings.status_topic == "home/instances/room-b/status"
    assert settings.cluster.status_topics("home") == (
        "home/instances/room-a/status",
        "home/instances/room-b/status",
    )
    assert summary(settings).endswith("0 automations. Instance room-b of room-a, room-b.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "cluster: {instance: a, peers: [a]}\n",
            "homeflow.yaml:1:10: cluster: a cluster needs a PostgreSQL journal (journal: postgresql://…):"
            " its instances share it",
        ),
        (
            f"journal: {URL}\ncluster: {{instance: Room_A, peers: [a]}}\n",
            'homeflow.yaml:2:21: cluster.instance: "Room_A" must be 1 to 32 lowercase letters, digits',
        ),
        (
            f"journal: {URL}\ncluster: {{instance: {'a' * 33}, peers: [a]}}\n",
            "homeflow.yaml:2:21: cluster.instance: too long (33 characters); at most 32",
        ),
        (
            f"journal: {URL}\ncluster: {{instance: a, peers: [b, c]}}\n",
            'homeflow.yaml:2:21: cluster.instance: "a" is not among cluster.peers (b, c)',
        ),
        (
            f"journal: {URL}\ncluster: {{instance: a, peers: [a, b, a]}}\n",
            'homeflow.yaml:2:38: cluster.peers[2]: "a" is listed twice',
        ),
        (
            f"journal: {URL}\ncluster: {{instance: a}}\n",
            "homeflow.yaml:2:10: cluster.peers: missing (required)",
        ),
        (
            f"journal: {URL}\ncluster: {{instance: a, peers: [a], on_takeover: restart}}\n",
            'homeflow.yaml:2:49: cluster.on_takeover: unknown choice "restart"',
        ),
        (
            f"journal: {URL}\ncluster: {{instance: a, peers: [a], lease: 0.5}}\n",
            "homeflow.yaml:2:43: cluster.lease: must be >= 1, got 0.5",
        ),
        (
            f"journal: {URL}\ncluster: {{instance: a, peers: [a], lease: 61}}\n",
            "homeflow.yaml:2:43: cluster.lease: must be at most 60, got 61",
        ),
        (
            f"journal: {URL}\ncluster: {{instance: a, peers: [a], leader: a}}\n",
            'homeflow.yaml:2:36: cluster.leader: unknown key "leader"',
        ),
    ],
)
def test_a_bad_cluster_is_named_where_it_is_written(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(config(tmp_path, text))
    assert len(found) == 1, found
    assert found[0].removeprefix(f"{tmp_path}/").startswith(expected), found


def test_what_a_takeover_does_and_how_long_a_lease_lasts_are_settings(tmp_path: Path) -> None:
    text = f"journal: {URL}\ncluster: {{instance: a, peers: [a, b], on_takeover: interrupt, lease: 2.5}}\n"
    settings = load(config(tmp_path, text))
    assert settings.cluster == Cluster("a", ("a", "b"), on_takeover="interrupt", lease_s=2.5)


def test_the_peers_are_bounded(tmp_path: Path) -> None:
    peers = ", ".join(f"i{n}" for n in range(65))
    found = problems(config(tmp_path, f"journal: {URL}\ncluster: {{instance: i0, peers: [{peers}]}}\n"))
    assert found == [f"{tmp_path}/homeflow.yaml:2:32: cluster.peers: too many (65; at most 64)"]


def test_homeflow_without_the_postgres_extra_still_loads_its_service() -> None:
    # `None` in sys.modules is how Python marks a module as not importable: as if the extra were absent.
    hide = "import sys; sys.modules['psycopg'] = None; import homeflow.service, homeflow.cli"
    result = subprocess.run(
        [sys.executable, "-c", hide],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
