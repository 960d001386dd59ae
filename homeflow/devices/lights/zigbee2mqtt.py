"""A light paired with Zigbee2MQTT: state from `<z2m>/<name>`, commands to `<z2m>/<name>/set`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, NamedTuple

import aiomqtt

from homeflow import jsontext
from homeflow.devices.base import LightSnapshot
from homeflow.mqtt import MqttConnection, describe
from homeflow.routine.model import Ambience

log = logging.getLogger(__name__)

# The attributes that make up what a light looks like; everything else Z2M reports (linkquality,
# update, power-on behaviour) is not ours to restore.
LOOK = ("state", "brightness", "color_temp", "color_mode", "color")
STATE_WAIT_S = 3.0
MAX_RESENDS = 3
# What each attribute of a look must be, to be kept and later given back.
LOOK_TYPES: dict[str, type | tuple[type, ...]] = {
    "state": str,
    "brightness": int,
    "color_temp": (int, float),
    "color_mode": str,
    "color": dict,
}


def brightness_254(percent: int) -> int:
    return round(percent * 254 / 100)


def mireds(kelvin: int) -> int:
    return round(1_000_000 / kelvin)


def look_problem(state: dict[str, Any]) -> str | None:
    """Why a reported state cannot be a light's look (a wrong type would be sent back on restore)."""
    for key, kind in LOOK_TYPES.items():
        value = state.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            return f"{key} is {type(value).__name__}"
    return None


def shows(state: dict[str, Any], command: dict[str, Any]) -> bool:
    """Whether a light's reported state is what `command` asked for (the transition aside)."""
    for key, wanted in command.items():
        if key == "transition":
            continue
        have = state.get(key)
        if key == "color":
            if not isinstance(have, dict) or any(have.get(k) != v for k, v in wanted.items()):
                return False
        elif have != wanted:
            return False
    return True


def restore_payload(snapshot: LightSnapshot, transition_s: float) -> dict[str, Any]:
    """The `/set` payload that gives a light back its look, in the colour mode it was in."""
    payload: dict[str, Any] = {"state": snapshot.get("state", "ON"), "transition": transition_s}
    if payload["state"] != "ON":
        return payload
    if "brightness" in snapshot:
        payload["brightness"] = snapshot["brightness"]
    mode = snapshot.get("color_mode")
    if mode in ("xy", "hs") and isinstance(snapshot.get("color"), dict):
        color = snapshot["color"]
        keys = ("x", "y") if mode == "xy" else ("hue", "saturation")
        payload["color"] = {k: color[k] for k in keys if k in color}
    elif "color_temp" in snapshot:
        payload["color_temp"] = snapshot["color_temp"]
    return payload


class _GivenBack(NamedTuple):
    look: LightSnapshot
    command: dict[str, Any]  # the `/set` payload that gives it back
    until: float  # the loop's time after which the lamp's own reports count again


class Zigbee2MqttLight:
    """Offline, the latest command waits here for the next connect. Not a queue in MqttConnection: a
    light command is state, so only the latest counts (replaying dim-then-restore would flash the lamp),
    and homeflow's other messages are retained state it publishes again on connect anyway, or relays
    (`say`) that mean nothing once late."""

    def __init__(self, name: str, friendly_name: str, mqtt: MqttConnection, base_topic: str) -> None:
        self.name = name
        self.topic = f"{base_topic}/{friendly_name}"
        self._mqtt = mqtt
        self._state: dict[str, Any] | None = None
        self._updated = asyncio.Event()
        # The latest command the broker did not take (we were offline), kept until the light shows it.
        self._unsent: dict[str, Any] | None = None
        self._resends = 0
        # The look last given back, until the lamp reports it (at most STATE_WAIT_S): a snapshot in
        # between is that look, not the dimmed state reported before.
        self._given_back: _GivenBack | None = None
        mqtt.route(self.topic, self._on_state)
        mqtt.on_connect(self._send_unsent)

    async def _on_state(self, message: aiomqtt.Message) -> None:
        try:
            state = jsontext.loads(message.payload if isinstance(message.payload, bytes) else b"")
        except ValueError as exc:
            log.warning("light %s: state is not JSON (%s): %s", self.name, exc, describe(message))
            return
        if not isinstance(state, dict):
            log.warning("light %s: state is not a JSON object: %s", self.name, describe(message))
            return
        if problem := look_problem(state):
            log.warning("light %s: %s: %s", self.name, problem, describe(message))
            return
        self._state = {**(self._state or {}), **state}
        if self._given_back is not None and shows(self._state, self._given_back.command):
            self._given_back = None
        self._updated.set()
        await self._reconcile()

    async def _send_unsent(self) -> None:
        """After a reconnect: the command missed while offline, now. Zigbee2MQTT may not be back on a
        restarted broker yet, so `_reconcile` sends it again while the light reports something else."""
        if self._unsent is not None:
            self._resends = 0
            await self._mqtt.publish(f"{self.topic}/set", self._unsent)

    async def _reconcile(self) -> None:
        unsent = self._unsent
        if unsent is None or self._state is None:
            return
        if shows(self._state, unsent):
            self._unsent = None
        elif self._resends < MAX_RESENDS:
            self._resends += 1
            await self._mqtt.publish(f"{self.topic}/set", unsent)
        else:
            # A light that clamps a value (colour temperature out of its range) never shows it exactly.
            log.warning("light %s: still not as asked after %d tries: %s", self.name, MAX_RESENDS, unsent)
            self._unsent = None

    async def _command(self, payload: dict[str, Any]) -> None:
        """Send `payload`; offline, keep it (the latest only) for the next connect."""
        if await self._mqtt.publish(f"{self.topic}/set", payload):
            self._unsent = None
        else:
            self._unsent = payload

    def let_go(self) -> None:
        """Another homeflow sets this lamp from here on (its run was handed over, or its lease lost):
        forget the command kept for the next connect. Sent then, or again by `_reconcile` while the lamp
        reports the new owner's look, it would pull the lamp back to this run's older look."""
        self._unsent = None

    async def snapshot(self) -> LightSnapshot:
        if (given := self._given_back) is not None and asyncio.get_running_loop().time() < given.until:
            return dict(given.look)
        if self._state is None:
            # No retained state seen: ask Zigbee2MQTT to read the light.
            self._updated.clear()
            await self._mqtt.publish(f"{self.topic}/get", {"state": ""})
            try:
                await asyncio.wait_for(self._updated.wait(), STATE_WAIT_S)
            except TimeoutError:
                log.warning("light %s: no state from %s; it will not be restored", self.name, self.topic)
                return {}
        state = self._state or {}
        return {key: state[key] for key in LOOK if key in state}

    async def apply(self, ambience: Ambience) -> None:
        payload: dict[str, Any] = {
            "state": "ON",
            "brightness": brightness_254(ambience.brightness_pct),
            "transition": ambience.transition_s,
        }
        if ambience.color_temp_k:
            payload["color_temp"] = mireds(ambience.color_temp_k)
        await self._command(payload)

    async def restore(self, snapshot: LightSnapshot, transition_s: float) -> None:
        if snapshot:
            payload = restore_payload(snapshot, transition_s)
            until = asyncio.get_running_loop().time() + STATE_WAIT_S
            self._given_back = _GivenBack(dict(snapshot), payload, until)
            await self._command(payload)
