"""`homeflow run` with no settings on a machine that has nothing: the bundled settings, the embedded
broker, the virtual light and printed steps, all in a real process driven over its HTTP API."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from .harness import first_messages
from .mosquitto import Broker, free_port

# Fast enough that the whole back-massage routine, question included, plays in seconds.
TIME_SCALE = "60"
START_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 60.0


@dataclass
class Homeflow:
    proc: subprocess.Popen[str]
    http_port: int
    mqtt_port: int
    home: Path
    stderr: Path

    def request(self, method: str, path: str) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            connection.request(method, path, body=b"" if method == "POST" else None)
            response = connection.getresponse()
            body = json.loads(response.read())
        finally:
            connection.close()
        assert response.status == 200, body
        return body

    def wait_healthy(self) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self.proc.poll() is None, f"homeflow exited early:\n{self.log()}"
            try:
                health: dict[str, Any] = self.request("GET", "/api/health")
                if health["mqtt"]:
                    return health
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no healthy /api/health in time:\n{self.log()}"
            time.sleep(0.05)

    def events(self) -> Iterator[dict[str, Any]]:
        """The `state` events of /api/events, as they come."""
        connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=RUN_TIMEOUT_S)
        connection.request("GET", "/api/events")
        response = connection.getresponse()
        try:
            for raw in response:
                line = raw.decode().strip()
                if line.startswith("data: "):
                    yield json.loads(line[len("data: ") :])
        finally:
            connection.close()

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)

    def log(self) -> str:
        return self.stderr.read_text()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Any]:
    """Start `homeflow run` with no settings in an empty home, as a newcomer would."""
    started: list[Homeflow] = []

    def start(mqtt_port: int, path: str) -> Homeflow:
        home = tmp_path / "home"
        (home / "bin").mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEFLOW_")}
        http_port = free_port()
        env |= {
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "PATH": path or str(home / "bin"),
            "HOMEFLOW_MQTT_PORT": str(mqtt_port),
            "HOMEFLOW_HTTP_PORT": str(http_port),
            "HOMEFLOW_TIME_SCALE": TIME_SCALE,
        }
        stderr = tmp_path / "stderr.log"
        with stderr.open("w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "homeflow.cli", "run"],
                cwd=home,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                text=True,
            )
        started.append(Homeflow(proc, http_port, mqtt_port, home, stderr))
        return started[-1]

    yield start
    for homeflow in started:
        if homeflow.proc.poll() is None:
            homeflow.proc.kill()
            homeflow.proc.wait()


def retained(port: int, topic_filter: str) -> dict[str, str]:
    """What a client of our own gets under `topic_filter` on subscribing: the retained messages."""
    got = asyncio.run(first_messages(Broker("127.0.0.1", port), f"probe-{time.monotonic_ns()}", topic_filter))
    return {m.topic: m.text for m in got}


def clear_retained(port: int, topic_filters: tuple[str, ...]) -> None:
    """Leave the shared broker as the test found it."""

    async def clear() -> None:
        broker = Broker("127.0.0.1", port)
        async with aiomqtt.Client(
            broker.host, broker.port, identifier=f"clear-{time.monotonic_ns()}"
        ) as client:
            for topic_filter in topic_filters:
                for message in await first_messages(broker, f"probe-{time.monotonic_ns()}", topic_filter):
                    await client.publish(message.topic, b"", qos=1, retain=True)

    asyncio.run(clear())


def test_run_without_settings_plays_the_back_massage_on_a_bare_machine(launch: Any) -> None:
    # No espeak-ng and no aplay on PATH: the machine of someone who has only installed homeflow.
    homeflow = launch(free_port(), "")
    assert homeflow.wait_healthy() == {"status": "ok", "mqtt": True}
    # The embedded broker is a broker for everyone on this machine: it holds homeflow's status.
    assert retained(homeflow.mqtt_port, "homeflow/status") == {"homeflow/status": "online"}

    events = homeflow.events()
    first = next(events)
    assert first["routine"] == "back-massage"
    assert first["state"]["lights"] == {
        "room": {"state": "ON", "brightness": 100, "color_temp": 4000, "transition": 0.0}
    }
    reply = homeflow.request("POST", "/api/routines/back-massage/start")
    assert reply["result"] == "started by web"

    steps, levels, states = [], [], []
    for event in events:
        state = event["state"]
        states.append(state["state"])
        levels.append(state["lights"]["room"]["brightness"])
        if state["step"] and state["step"] not in steps:
            steps.append(state["step"])
        if state["state"] == "idle":
            break
    assert steps[0] == "Get ready" and len(steps) == 10, steps
    assert "running" in states and "asking" in states  # it played through to the feedback question
    assert 35 in levels and levels[-1] == 100, levels  # dimmed for the routine, given back at the end

    runs = homeflow.request("GET", "/api/runs?routine=back-massage")["runs"]
    assert [(r["status"], r["trigger"], r["reps"]) for r in runs] == [("completed", "web", 5)]
    assert homeflow.terminate() == 0

    log = homeflow.log()
    assert "Traceback" not in log
    assert f"embedded MQTT broker listening on 127.0.0.1:{homeflow.mqtt_port}" in log
    # One warning about speech, then every sentence in the terminal.
    assert log.count("espeak-ng not found") == 1
    assert "steps are printed here, not spoken" in log
    assert "say: Time for your back massage." in log
    assert "light room: 35% at 2700 K over 4 s" in log
    # The journal is the user's, not the package's.
    assert (homeflow.home / "data" / "homeflow" / "homeflow.db").is_file()
    assert sorted(p.name for p in homeflow.home.iterdir()) == ["bin", "data"]


def test_run_without_settings_uses_the_broker_already_listening(launch: Any, broker: Broker) -> None:
    homeflow = launch(broker.port, os.environ["PATH"])
    try:
        homeflow.wait_healthy()
        assert retained(broker.port, "homeflow/status") == {"homeflow/status": "online"}
        assert homeflow.terminate() == 0
        # Through Mosquitto it said goodbye: no broker of its own went away under it.
        assert retained(broker.port, "homeflow/status") == {"homeflow/status": "offline"}
        log = homeflow.log()
        assert f"using the MQTT broker already listening on 127.0.0.1:{broker.port}" in log
        assert "embedded MQTT broker listening" not in log
        assert "Traceback" not in log
    finally:
        clear_retained(broker.port, ("homeflow/#", "homeassistant/+/homeflow/#"))
