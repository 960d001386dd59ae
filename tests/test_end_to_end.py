"""A whole back-massage run through a real Mosquitto: button press, lights, announcements, journal."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from homeflow.journal import Journal, RunStatus
from homeflow.service import serve
from homeflow.settings import load

from .conftest import REPO, Broker
from .z2m import SimulatedLight

TIME_SCALE = 400  # the four-minute routine plays in well under a second of waits
BEFORE = {"state": "ON", "brightness": 203, "color_temp": 250, "color_mode": "color_temp"}


def write_config(
    tmp_path: Path, broker: Broker, prefix: str, cache: Path, edits: dict[str, str] | None = None
) -> Path:
    """A homeflow.yaml on the test broker; `edits` replace text in the shipped back-massage routine."""
    routines = tmp_path / "routines"
    routines.mkdir()
    routine = (REPO / "homeflow/defaults/routines/back-massage.yaml").read_text()
    for old, new in (edits or {}).items():
        assert old in routine, old
        routine = routine.replace(old, new)
    (routines / "back-massage.yaml").write_text(routine)
    player = tmp_path / "player.sh"
    player.write_text(f'#!/bin/sh\necho "$1" >> {tmp_path}/played.log\n')
    player.chmod(0o755)
    config = tmp_path / "homeflow.yaml"
    config.write_text(
        f"""
mqtt: {{host: {broker.host}, port: {broker.port}, base_topic: {prefix}/hf, client_id: {prefix}-homeflow}}
zigbee2mqtt: {{base_topic: {prefix}/z2m}}
http: {{port: 0}}  # any free port: test runs may overlap on one machine
journal: journal.db
cache: {cache}
lights:
  lamp: {{zigbee2mqtt: Living Room Lamp}}
speakers:
  room: {{local: {{player: {player}}}}}
buttons:
  massage: {{zigbee2mqtt: Massage Button}}
automations:
  - routine: back-massage
    when: [{{button: massage}}]
    lights: [lamp]
    speakers: [room]
"""
    )
    return config


@dataclass
class Watcher:
    """A Home Assistant-like observer: every message homeflow publishes under its base topic."""

    client: aiomqtt.Client
    messages: list[tuple[str, Any, bool]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def collect(self) -> None:
        async for message in self.client.messages:
            assert isinstance(message.payload, bytes)
            text = message.payload.decode()
            with contextlib.suppress(ValueError):
                text = json.loads(text)
            self.messages.append((message.topic.value, text, message.retain))
            self.arrived.set()

    async def wait_for(self, topic_end: str, check: Any = None, within: float = 15, since: int = 0) -> Any:
        """The first payload on a topic ending in `topic_end` that passes `check`, from message `since` on."""
        async with asyncio.timeout(within):
            while True:
                for topic, payload, _ in self.messages[since:]:
                    if topic.endswith(topic_end) and (check is None or check(payload)):
                        return payload
                self.arrived.clear()
                await self.arrived.wait()

    def payloads(self, topic_end: str) -> list[Any]:
        return [p for t, p, _ in self.messages if t.endswith(topic_end)]


@dataclass
class Home:
    config: Path
    light: SimulatedLight
    watcher: Watcher
    client: aiomqtt.Client
    prefix: str

    async def press(self, action: str = "single", *, retain: bool = False) -> None:
        topic = f"{self.prefix}/z2m/Massage Button"
        await self.client.publish(topic, json.dumps({"action": action, "battery": 97}), qos=1, retain=retain)


async def stopped(service: asyncio.Task[None], within: float = 10) -> None:
    """Wait for the service to end; if it hangs, fail with where every task is waiting."""
    done, _ = await asyncio.wait((service,), timeout=within)
    if not done:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(file=stacks)
        service.cancel()
        raise AssertionError(f"the service did not stop within {within} s:\n{stacks.getvalue()}")
    service.result()


@contextlib.asynccontextmanager
async def home(
    tmp_path: Path,
    broker: Broker,
    prefix: str,
    cache: Path,
    *,
    pre_press: bool = False,
    time_scale: float = TIME_SCALE,
    edits: dict[str, str] | None = None,
) -> AsyncIterator[Home]:
    config = write_config(tmp_path, broker, prefix, cache, edits)
    light = SimulatedLight(f"{prefix}/z2m", "Living Room Lamp", BEFORE)
    async with (
        light.running(broker),
        aiomqtt.Client(broker.host, broker.port, identifier=f"{prefix}-watcher") as client,
    ):
        await client.subscribe(f"{prefix}/hf/#", qos=1)
        watcher = Watcher(client)
        collector = asyncio.create_task(watcher.collect())
        the_home = Home(config, light, watcher, client, prefix)
        if pre_press:
            await the_home.press(retain=True)  # a stale retained press, seen when homeflow subscribes
        stop = asyncio.Event()
        service = asyncio.create_task(serve(load(config), stop, time_scale=time_scale))
        try:
            await watcher.wait_for("/hf/status", lambda p: p == "online")
            await watcher.wait_for("/back-massage/state", lambda p: p["state"] == "idle")
            yield the_home
        finally:
            stop.set()
            try:
                await stopped(service)
            finally:
                collector.cancel()


async def test_a_press_runs_the_whole_routine(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache) as h:
        await h.press()
        await h.watcher.wait_for("/back-massage/event", lambda p: p["event"] == "completed", within=30)
        await h.watcher.wait_for("/back-massage/state", lambda p: p["state"] == "idle" and h.light.commands)

    # Lights: dimmed first with a transition, the calm-close change, then restored exactly.
    assert h.light.commands[0] == {"state": "ON", "brightness": 89, "transition": 4, "color_temp": 370}
    assert h.light.commands[1] == {"state": "ON", "brightness": 127, "transition": 10, "color_temp": 370}
    assert h.light.commands[-1] == {"state": "ON", "brightness": 203, "color_temp": 250, "transition": 4}
    assert len(h.light.commands) == 3
    assert {k: h.light.state[k] for k in BEFORE} == BEFORE

    # Announcements: relayed on the say topic and played by the speaker, in plan order.
    said = [p["text"] for p in h.watcher.payloads("/back-massage/say")]
    assert said[0].startswith("Time for your back massage.")
    assert said.count("Five.") == 6  # circles each way and up-and-down, on both sides
    assert any("never" in s.lower() and "spine" in s for s in said)
    played = (tmp_path / "played.log").read_text().split()
    assert len(played) == len(said)

    # State: running with steps in order, then idle again.
    states = h.watcher.payloads("/back-massage/state")
    running = [s for s in states if s["state"] == "running"]
    assert [s["step_index"] for s in running] == sorted(s["step_index"] for s in running)
    assert running[0]["step"] == "Get ready"
    assert running[0]["reps"] == 5
    assert running[0]["steps"] == 10
    assert states[-1]["state"] == "idle"
    assert [p["event"] for p in h.watcher.payloads("/back-massage/event")] == ["started", "completed"]

    with Journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        assert (run.status, run.trigger, run.reps) == (RunStatus.COMPLETED, "button:massage", 5)
        assert run.light_snapshot == {"lamp": BEFORE}
        assert run.cues == len(journal.cues(run.id)) > len(said)


async def test_a_retained_press_starts_nothing(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache, pre_press=True) as h:
        await asyncio.sleep(0.3)
        assert h.watcher.payloads("/back-massage/event") == []
        assert h.light.commands == []
        await h.client.publish(f"{prefix}/z2m/Massage Button", b"", retain=True)  # clear it


async def test_cancel_restores_the_lights_and_logs_cancelled(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache) as h:
        await h.client.publish(f"{prefix}/hf/back-massage/set", "start", qos=1)
        await h.watcher.wait_for("/back-massage/state", lambda p: p.get("step_index") == 1)
        await h.client.publish(f"{prefix}/hf/back-massage/set", "cancel", qos=1)
        await h.watcher.wait_for("/back-massage/event", lambda p: p["event"] == "cancelled")
    assert h.light.commands[0]["brightness"] == 89
    assert h.light.commands[-1] == {"state": "ON", "brightness": 203, "color_temp": 250, "transition": 4}
    with Journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        assert (run.status, run.trigger) == (RunStatus.CANCELLED, "mqtt")
