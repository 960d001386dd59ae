"""In a cluster, an instance shows the routines it does not own as their owners publish them; what is
not a routine's state or figures (a neighbour's garbage on the same topics) changes nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiomqtt

from homeflow.clock import FakeClock
from homeflow.devices.lights.virtual import VirtualLight
from homeflow.mqtt import MqttConnection
from homeflow.settings.model import MqttSettings
from homeflow.state_shape import well_formed, well_formed_stats
from homeflow.status import MAX_MIRRORED_BYTES, Status, idle

from .home import home
from .mosquitto import Broker
from .tasks import cancel_and_wait

BASE = "hf"


def status() -> tuple[Status, list[tuple[str, dict[str, Any]]]]:
    shown = Status(MqttConnection(MqttSettings(base_topic=BASE)), BASE, FakeClock(), ["one", "two"])
    shown.owns = lambda routine: routine == "one"
    seen: list[tuple[str, dict[str, Any]]] = []
    shown.watch(lambda routine, view: seen.append((routine, view)))
    return shown, seen


def message(topic: str, payload: object) -> aiomqtt.Message:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return aiomqtt.Message(f"{BASE}/{topic}", data, qos=1, retain=True, mid=1, properties=None)


async def test_another_owners_state_and_figures_are_shown() -> None:
    shown, seen = status()
    running = {
        "state": "running",
        "step": "Up and down",
        "step_index": 2,
        "lights": {"lamp": {"state": "ON", "brightness": 40}},
    }
    await shown._on_owners(message("two/state", running))
    await shown._on_owners(message("two/stats", {"streak_days": 3}))
    await shown._on_owners(message("two/stats/anna", {"streak_days": 1}))
    assert shown.live("two") == running
    assert seen == [("two", running)]  # a watching page hears of it at once
    assert shown.current_stats("two") == {"streak_days": 3}
    assert shown.current_stats("two", "anna") == {"streak_days": 1}


async def test_its_own_routines_and_garbage_are_not_taken() -> None:
    shown, seen = status()
    await shown._on_owners(message("one/state", {"state": "running"}))  # its own: it knows better
    for payload in (
        b"not json",
        [1, 2],
        {"state": "bogus"},
        {"step": "no state"},
        {"state": "running", "pad": "x" * MAX_MIRRORED_BYTES},
    ):
        await shown._on_owners(message("two/state", payload))
    await shown._on_owners(message("two/stats", b"\xff"))
    await shown._on_owners(message("three/state", {"state": "running"}))  # no such routine here
    assert shown.live("one") == shown.live("two") == idle()
    assert shown.current_stats("two") == {}
    assert seen == []


FAKE_QUESTION = {
    "state": "asking",
    "lights": "zzz",
}  # a page showed the question and "0 light off 1 light off"


async def test_a_state_with_fields_not_as_homeflow_writes_them_is_not_shown() -> None:
    shown, seen = status()
    for payload in (
        FAKE_QUESTION,
        {"state": "running", "lights": {"lamp": "zzz"}},
        {"state": "running", "lights": {"lamp": {"state": "ON", "brightness": "full"}}},
        {"state": "running", "lights": {"lamp": {"state": "dim", "brightness": 3}}},
        {"state": "running", "lights": {"lamp": {"state": "ON", "script": "x"}}},
        {"state": "running", "step_index": "2"},
        {"state": "running", "reps": True},
        {"state": "running", "step": ["Up"]},
        {"state": "running", "ends_at": "soon"},
        {"state": "asking", "run_id": 3.5},
    ):
        await shown._on_owners(message("two/state", payload))
    assert shown.live("two") == idle()
    assert seen == []


async def test_figures_not_as_homeflow_writes_them_are_not_shown() -> None:
    shown, _ = status()
    for payload in (
        {"streak_days": "999"},
        {"streak_days": True},
        {"completed_today": 1.5},
        {"last_completed": "yesterday"},
        {"towards": {"good": "all"}},
        {"advice": ["rest"]},
        {"rest_until": "never"},
    ):
        await shown._on_owners(message("two/stats", payload))
        await shown._on_owners(message("two/stats/anna", payload))
    assert shown.current_stats("two") == shown.current_stats("two", "anna") == {}
    await shown._on_owners(message("two/stats", {"streak_days": 4, "banner": "<b>hello</b>"}))
    assert shown.current_stats("two") == {"streak_days": 4}


async def test_a_peers_state_is_shown_with_its_own_fields_only() -> None:
    shown, _ = status()
    running = {"state": "running", "step": "Up", "step_index": 1, "ends_at": "2026-03-30T09:10:00+00:00"}
    await shown._on_owners(message("two/state", {**running, "banner": "<b>hello</b>"}))
    assert shown.live("two") == running


async def test_a_retained_fake_question_on_a_real_broker_leaves_the_routine_idle(
    broker: Broker, prefix: str
) -> None:
    connection = MqttConnection(
        MqttSettings(host=broker.host, port=broker.port, base_topic=prefix, client_id=f"{prefix}-hf")
    )
    shown = Status(connection, prefix, FakeClock(), ["one", "two", "three"])
    shown.owns = lambda routine: routine == "one"
    shown.mirror()
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"{prefix}-neighbour") as neighbour:
        await neighbour.publish(f"{prefix}/two/state", json.dumps(FAKE_QUESTION), qos=1, retain=True)
        # Sent after it on one connection, so heard after it: once it is shown, the fake was handled.
        await neighbour.publish(f"{prefix}/three/state", json.dumps({"state": "paused"}), qos=1, retain=True)
        task = asyncio.create_task(connection.run())
        try:
            async with asyncio.timeout(10):
                while shown.live("three")["state"] != "paused":  # noqa: ASYNC110 (the mirror, polled)
                    await asyncio.sleep(0.01)
        finally:
            await cancel_and_wait(task)
            for routine in ("two", "three"):
                await neighbour.publish(f"{prefix}/{routine}/state", b"", qos=1, retain=True)
    assert shown.live("two") == idle()


async def test_every_state_homeflow_publishes_is_shown_whole_by_its_peers(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache) as h:
        await h.press()
        await h.watch.wait_for(h.topic("state"), lambda m: m.json["state"] == "asking", within=30)
        await h.client.publish(h.topic("set"), "good", qos=1)
        await h.watch.wait_for(
            h.topic("state"), lambda m: m.json["state"] == "idle" and bool(h.light.commands)
        )
    states = h.watch.payloads(h.topic("state"))
    assert {"starting", "running", "asking", "idle"} <= {state["state"] for state in states}
    for state in states:
        assert well_formed(state) == state
    figures = h.watch.payloads(h.topic("stats"))
    assert figures and all(well_formed_stats(stats) == stats for stats in figures)
    lit = {"state": "running", "lights": {"lamp": VirtualLight("lamp").shown()}}
    assert well_formed(lit) == lit
