"""A light paired with Zigbee2MQTT: state from `<z2m>/<name>`, commands to `<z2m>/<name>/set`."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiomqtt

from homeflow.devices.base import LightSnapshot
from homeflow.mqtt import MqttConnection, describe
from homeflow.routine.model import Ambience

log = logging.getLogger(__name__)

# The attributes that make up what a light looks like; everything else Z2M reports (linkquality,
# update, power-on behaviour) is not ours to restore.
LOOK = ("state", "brightness", "color_temp", "color_mode", "color")
STATE_WAIT_S = 3.0


def brightness_254(percent: int) -> int:
    return round(percent * 254 / 100)


def mireds(kelvin: int) -> int:
    return round(1_000_000 / kelvin)


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


class Zigbee2MqttLight:
    def __init__(self, name: str, friendly_name: str, mqtt: MqttConnection, base_topic: str) -> None:
        self.name = name
        self.topic = f"{base_topic}/{friendly_name}"
        self._mqtt = mqtt
        self._state: dict[str, Any] | None = None
        self._updated = asyncio.Event()
        mqtt.route(self.topic, self._on_state)

    async def _on_state(self, message: aiomqtt.Message) -> None:
        try:
            state = json.loads(message.payload if isinstance(message.payload, bytes) else b"")
        except ValueError:
            state = None
        if not isinstance(state, dict):
            log.warning("light %s: state is not a JSON object: %s", self.name, describe(message))
            return
        self._state = {**(self._state or {}), **state}
        self._updated.set()

    async def snapshot(self) -> LightSnapshot:
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
        await self._mqtt.publish(f"{self.topic}/set", payload)

    async def restore(self, snapshot: LightSnapshot, transition_s: float) -> None:
        if snapshot:
            await self._mqtt.publish(f"{self.topic}/set", restore_payload(snapshot, transition_s))
