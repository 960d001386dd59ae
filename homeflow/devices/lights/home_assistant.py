"""A light that Home Assistant drives, through its REST API: `light.turn_on` / `light.turn_off`.

The snapshot is the light's state read from `/api/states/<entity_id>`, written back on restore; not
`scene.create` with `snapshot_entities`: such a scene lives only in Home Assistant's memory (gone after
its restart, so useless to the crash recovery that reads snapshots from our journal), and it leaves a
scene entity behind in the user's Home Assistant for every run.
"""

from __future__ import annotations

import logging
from typing import Any

from homeflow.devices.base import LightSnapshot
from homeflow.errors import HomeAssistantError
from homeflow.homeassistant.api import HomeAssistantApi
from homeflow.routine.model import Ambience

log = logging.getLogger(__name__)

# The attribute that holds a light's colour in each of Home Assistant's colour modes; the other modes
# (onoff, brightness, white) have no colour to give back. A light in `white` mode is given back with
# `white: <brightness>` (light.turn_on's way to white mode); a bare brightness would leave it in the
# colour the routine set.
COLOUR_OF_MODE = {
    "color_temp": "color_temp_kelvin",
    "hs": "hs_color",
    "xy": "xy_color",
    "rgb": "rgb_color",
    "rgbw": "rgbw_color",
    "rgbww": "rgbww_color",
}


def look_of(state: dict[str, Any]) -> LightSnapshot:
    """What a light looks like, from its `/api/states` answer; {} when it is unavailable or unknown."""
    value = state.get("state")
    if value not in ("on", "off"):
        return {}
    snapshot: LightSnapshot = {"state": value}
    attributes = state.get("attributes") or {}
    if value == "on":
        mode = attributes.get("color_mode")
        for key in ("brightness", "color_mode", COLOUR_OF_MODE.get(mode or "")):
            if key and attributes.get(key) is not None:
                snapshot[key] = attributes[key]
    return snapshot


def restore_call(entity_id: str, snapshot: LightSnapshot, transition_s: float) -> tuple[str, dict[str, Any]]:
    """The `light` service and its data that give a light back its look, in the colour mode it was in."""
    data: dict[str, Any] = {"entity_id": entity_id, "transition": transition_s}
    if snapshot.get("state") != "on":
        return "turn_off", data
    if "brightness" in snapshot:
        data["brightness"] = snapshot["brightness"]
    mode = snapshot.get("color_mode") or ""
    if mode == "white":
        data["white"] = data.pop("brightness", True)  # `white` carries the brightness
    colour = COLOUR_OF_MODE.get(mode)
    if colour and colour in snapshot:
        data[colour] = snapshot[colour]
    return "turn_on", data


class HomeAssistantLight:
    def __init__(self, name: str, entity_id: str, api: HomeAssistantApi) -> None:
        self.name = name
        self.entity_id = entity_id
        self._api = api

    async def snapshot(self) -> LightSnapshot:
        try:
            state = await self._api.state(self.entity_id)
        except HomeAssistantError as exc:
            # The routine still runs (speech matters more than light); this light is just not restored.
            log.warning("light %s: %s; it will not be restored", self.name, exc)
            return {}
        snapshot = look_of(state)
        if not snapshot:
            log.warning(
                "light %s: %s is %r; it will not be restored", self.name, self.entity_id, state.get("state")
            )
        return snapshot

    async def apply(self, ambience: Ambience) -> None:
        data: dict[str, Any] = {
            "entity_id": self.entity_id,
            "brightness_pct": ambience.brightness_pct,
            "transition": ambience.transition_s,
        }
        if ambience.color_temp_k:
            data["color_temp_kelvin"] = ambience.color_temp_k
        try:
            await self._api.call("light", "turn_on", data)
        except HomeAssistantError as exc:
            log.warning("light %s not set: %s", self.name, exc)

    async def restore(self, snapshot: LightSnapshot, transition_s: float) -> None:
        if snapshot:
            service, data = restore_call(self.entity_id, snapshot, transition_s)
            await self._api.call("light", service, data)
