"""A home for end-to-end tests on the test broker: the shipped back-massage routine, a Zigbee2MQTT lamp
and button, a speaker whose player writes down each clip, and a collector of all homeflow publishes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiomqtt

from homeflow.journal import Database, open_journal
from homeflow.routine.safety import fingerprint
from homeflow.settings import load

from .harness import (
    Collector,
    ShiftedClock,
    collecting,
    recording_player,
    serving,
    shipped_routine,
    write_settings,
)
from .mosquitto import Broker
from .z2m import SimulatedLight

TIME_SCALE = 400  # the four-minute routine plays in well under a second of waits
BEFORE = {"state": "ON", "brightness": 203, "color_temp": 250, "color_mode": "color_temp"}


def home_settings(
    folder: Path,
    broker: Broker,
    prefix: str,
    cache: Path,
    *,
    edits: Mapping[str, str] | None = None,
    gestures: Mapping[str, str] | None = None,
    routine: str = "back-massage.yaml",
    http_port: int = 0,
) -> Path:
    """The home's homeflow.yaml; `edits` replace text in the shipped back-massage routine (`routine`
    names its file: the German one is `back-massage-de.yaml`), `gestures` replace the button's default
    ones; `http_port` serves the web API there (0: any free port)."""
    mapped = f", gestures: {json.dumps(dict(gestures))}" if gestures else ""
    body = f"""\
lights:
  lamp: {{zigbee2mqtt: Living Room Lamp}}
speakers:
  room: {{local: {{player: {recording_player(folder)}}}}}
buttons:
  massage: {{zigbee2mqtt: Massage Button{mapped}}}
automations:
  - routine: back-massage
    when: [{{button: massage}}]
    lights: [lamp]
    speakers: [room]
"""
    routines = {"back-massage": shipped_routine(edits, routine)}
    return write_settings(folder, broker, prefix, body, routines, cache=cache, http={"port": http_port})


def safety_heard(config: Path) -> None:
    """Journal the shipped routine's safety introduction as heard: for tests of what comes after it."""
    settings = load(config)
    routine = settings.routines["back-massage"]
    heard = fingerprint(routine)
    assert heard is not None and isinstance(settings.journal, Path)
    with open_journal(settings.journal) as journal:
        journal.record_safety(routine.id, heard)


@dataclass
class Home:
    config: Path
    light: SimulatedLight
    watch: Collector  # everything homeflow publishes under its base topic
    prefix: str
    clock: ShiftedClock  # homeflow's clock: `clock.shift(DUPLICATE_WINDOW_S)` makes the next press new

    @property
    def base(self) -> str:
        return f"{self.prefix}/hf"

    @property
    def client(self) -> aiomqtt.Client:
        return self.watch.client

    def topic(self, name: str) -> str:
        """The back-massage routine's topic `name`: `state`, `event`, `say`, `stats`, `set`."""
        return f"{self.base}/back-massage/{name}"

    async def press(self, action: str = "single", *, retain: bool = False) -> None:
        topic = f"{self.prefix}/z2m/Massage Button"
        await self.client.publish(topic, json.dumps({"action": action, "battery": 97}), qos=1, retain=retain)


@contextlib.asynccontextmanager
async def home(
    folder: Path,
    broker: Broker,
    prefix: str,
    cache: Path,
    *,
    pre_press: bool = False,
    time_scale: float = TIME_SCALE,
    edits: Mapping[str, str] | None = None,
    gestures: Mapping[str, str] | None = None,
    routine: str = "back-massage.yaml",
    http_port: int = 0,
    journal: Database | None = None,
) -> AsyncIterator[Home]:
    """The home with homeflow serving in it, entered once the routine is idle; its journal in `journal`
    (a PostgreSQL database) or else `folder/journal.db`."""
    config = home_settings(
        folder, broker, prefix, cache, edits=edits, gestures=gestures, routine=routine, http_port=http_port
    )
    if journal is not None:
        config.write_text(config.read_text().replace('journal: "journal.db"', f"journal: {journal.url}"))
    light = SimulatedLight(f"{prefix}/z2m", "Living Room Lamp", BEFORE)
    async with light.running(broker), collecting(broker, f"{prefix}-watcher", f"{prefix}/hf/#") as watch:
        the_home = Home(config, light, watch, prefix, ShiftedClock(time_scale))
        if pre_press:
            await the_home.press(retain=True)  # a stale retained press, seen when homeflow subscribes
        async with serving(config, watch, the_home.base, clock=the_home.clock):
            await watch.wait_for(the_home.topic("state"), lambda m: m.json["state"] == "idle")
            yield the_home
