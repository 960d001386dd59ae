"""`homeflow run` with no settings on a machine that has nothing: the bundled settings, the embedded
broker, the virtual light and printed steps, all in a real process driven over its HTTP API."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiomqtt
import pytest

from .harness import first_messages
from .mosquitto import Broker, free_port
from .process import Homeflow, start_homeflow


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[[int, str], Homeflow]]:
    """Start `homeflow run` with no settings in an empty home, as a newcomer would."""
    started: list[Homeflow] = []

    def start(mqtt_port: int, path: str) -> Homeflow:
        started.append(start_homeflow(tmp_path / "home", mqtt_port, path))
        return started[-1]

    yield start
    for homeflow in started:
        homeflow.kill()


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


def test_run_without_settings_plays_the_back_massage_on_a_bare_machine(
    launch: Callable[[int, str], Homeflow],
) -> None:
    # No espeak-ng and no aplay on PATH: the machine of someone who has only installed homeflow.
    homeflow = launch(free_port(), "")
    assert homeflow.wait_healthy() == {"status": "ok", "mqtt": True, "token": False}
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
        if event["routine"] != "back-massage":
            continue  # the German back massage, beside it, stays idle
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


def test_run_without_settings_uses_the_broker_already_listening(
    launch: Callable[[int, str], Homeflow], broker: Broker
) -> None:
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
