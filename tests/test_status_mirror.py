"""In a cluster, an instance shows the routines it does not own as their owners publish them; what is
not a routine's state or figures (a neighbour's garbage on the same topics) changes nothing."""

from __future__ import annotations

import json
from typing import Any

import aiomqtt

from homeflow.clock import FakeClock
from homeflow.mqtt import MqttConnection
from homeflow.settings.model import MqttSettings
from homeflow.status import MAX_MIRRORED_BYTES, Status, idle

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
    running = {"state": "running", "step": "Up and down", "step_index": 2, "lights": {"lamp": {"on": True}}}
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
