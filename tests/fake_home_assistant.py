"""A fake Home Assistant at the network edge: its REST API for lights, on 127.0.0.1 and a free port."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aiohttp import web

TOKEN = "test-long-lived-access-token"
# What light.turn_on does to a light's colour mode, for the colour keys homeflow sends.
MODE_OF_COLOUR = {
    "color_temp_kelvin": "color_temp",
    "hs_color": "hs",
    "xy_color": "xy",
    "rgb_color": "rgb",
}


# The fields Home Assistant's service schemas accept (tts/services.yaml, media_player/services.yaml).
SPEAK_FIELDS = {"entity_id", "media_player_entity_id", "message", "cache", "language", "options"}
# A legacy engine's `tts.<engine>_say` (no tts entity): the media players are its entity_id.
SAY_FIELDS = {"entity_id", "message", "cache", "language", "options"}
PLAY_MEDIA_FIELDS = {"entity_id", "media_content_id", "media_content_type", "enqueue", "announce", "extra"}


@dataclass
class Call:
    service: str
    data: dict[str, Any]
    at: float = field(default=0.0, compare=False)  # the event loop's time when it arrived


@dataclass
class FakeHomeAssistant:
    """Keeps light states, applies `light.turn_on`/`turn_off` roughly as Home Assistant does, and records
    every request; a wrong token gets 401, an unknown entity 404, and `stall` makes it never answer."""

    lights: dict[str, dict[str, Any]]
    players: dict[str, dict[str, Any]] = field(default_factory=dict)  # media players, with volume_level
    tts_entities: tuple[str, ...] = ("tts.piper",)
    legacy_engines: tuple[str, ...] = ()  # engines with a `tts.<engine>_say` service and no entity
    played: list[tuple[str, str]] = field(default_factory=list)  # (media player, message) really spoken
    calls: list[Call] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    stall: bool = False
    url: str = ""

    def state(self, entity_id: str) -> dict[str, Any]:
        return copy.deepcopy(self.lights[entity_id])

    async def _authorised(self, request: web.Request) -> None:
        self.tokens.append(request.headers.get("Authorization", ""))
        if self.stall:
            await asyncio.Event().wait()  # until the client gives up and the server closes
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise web.HTTPUnauthorized(text="401: Unauthorized")

    async def _get_state(self, request: web.Request) -> web.Response:
        await self._authorised(request)
        entity_id = request.match_info["entity_id"]
        self.reads.append(entity_id)
        entity = self.lights.get(entity_id) or self.players.get(entity_id)
        if entity_id in self.tts_entities:
            entity = {"state": "unknown", "attributes": {"friendly_name": entity_id}}
        if entity is None:
            raise web.HTTPNotFound(text='{"message": "Entity not found."}', content_type="application/json")
        return web.json_response({"entity_id": entity_id, **entity})

    async def _call_service(self, request: web.Request) -> web.Response:
        await self._authorised(request)
        service = f"{request.match_info['domain']}.{request.match_info['service']}"
        data = await request.json()
        self.calls.append(Call(service, data, asyncio.get_running_loop().time()))
        if service.startswith(("tts.", "media_player.")):
            return self._media(service, data)
        light = self.lights.get(data.get("entity_id", ""))
        if light is None:
            return web.json_response([])
        attributes = light.setdefault("attributes", {})
        if service == "light.turn_off":
            light["state"] = "off"
            for key in ("brightness", "color_mode", *MODE_OF_COLOUR):
                attributes[key] = None
        elif service == "light.turn_on":
            if "white" in data and MODE_OF_COLOUR.keys() & data.keys():
                # light.turn_on's schema: `white` and the colours are one exclusive group.
                raise web.HTTPBadRequest(
                    text="two or more values in the same group of exclusion 'Color descriptors'"
                )
            light["state"] = "on"
            if "brightness_pct" in data:
                attributes["brightness"] = round(data["brightness_pct"] * 255 / 100)
            if "brightness" in data:
                attributes["brightness"] = data["brightness"]
            if "white" in data:  # white mode, at that brightness
                for other in MODE_OF_COLOUR:
                    attributes[other] = None
                attributes["brightness"] = data["white"]
                attributes["color_mode"] = "white"
            for key, mode in MODE_OF_COLOUR.items():
                if key in data:
                    for other in MODE_OF_COLOUR:
                        attributes[other] = None
                    attributes[key] = data[key]
                    attributes["color_mode"] = mode
        else:
            raise web.HTTPBadRequest(text=f"unknown service {service}")
        return web.json_response([{"entity_id": data["entity_id"], **light}])

    def _media(self, service: str, data: dict[str, Any]) -> web.Response:
        """tts.speak and the media_player services, refusing what Home Assistant's schemas refuse (400)."""

        def refuse(why: str) -> NoReturn:
            raise web.HTTPBadRequest(text=f"Invalid data for {service}: {why}")

        if service == "tts.speak":
            if not set(data) <= SPEAK_FIELDS:
                refuse(f"extra keys {sorted(set(data) - SPEAK_FIELDS)}")
            if not isinstance(data.get("message"), str) or not data["message"]:
                refuse("message is required")
            if not isinstance(data.get("options", {}), dict):
                refuse("options must be a mapping")
            # An entity service targeting entities that do not exist does nothing, and says 200.
            if (
                data.get("entity_id") in self.tts_entities
                and data.get("media_player_entity_id") in self.players
            ):
                self.played.append((data["media_player_entity_id"], data["message"]))
            return web.json_response([])
        if service in {f"tts.{engine}_say" for engine in self.legacy_engines}:
            if not set(data) <= SAY_FIELDS:
                refuse(f"extra keys {sorted(set(data) - SAY_FIELDS)}")
            if not isinstance(data.get("message"), str) or not data["message"]:
                refuse("message is required")
            if data.get("entity_id") in self.players:
                self.played.append((data["entity_id"], data["message"]))
            return web.json_response([])
        if service.startswith("tts."):
            raise web.HTTPBadRequest(text=f"Service {service} not found")
        player = self.players.get(data.get("entity_id", ""))
        if player is None:
            refuse(f"no media player {data.get('entity_id')!r}")
        assert player is not None
        if service == "media_player.volume_set":
            level = data.get("volume_level")
            if (
                set(data) != {"entity_id", "volume_level"}
                or not isinstance(level, int | float)
                or not 0 <= level <= 1
            ):
                refuse("volume_level from 0 to 1 is required")
            player.setdefault("attributes", {})["volume_level"] = level
        elif service == "media_player.play_media":
            required = {"media_content_id", "media_content_type"}
            if not required <= set(data) <= PLAY_MEDIA_FIELDS:
                refuse("media_content_id and media_content_type are required, nothing unknown")
        else:
            refuse("unknown service")
        return web.json_response([{"entity_id": data["entity_id"], **player}])

    async def _services(self, request: web.Request) -> web.Response:
        """`GET /api/services`: each domain with its services (their descriptions left out)."""
        await self._authorised(request)
        tts = {"speak": {}, "clear_cache": {}, **{f"{engine}_say": {} for engine in self.legacy_engines}}
        domains = {"light": {"turn_on": {}, "turn_off": {}}, "tts": tts, "media_player": {"play_media": {}}}
        return web.json_response([{"domain": d, "services": services} for d, services in domains.items()])

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeHomeAssistant]:
        app = web.Application()
        app.router.add_get("/api/states/{entity_id}", self._get_state)
        app.router.add_post("/api/services/{domain}/{service}", self._call_service)
        app.router.add_get("/api/services", self._services)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self
        finally:
            await runner.cleanup()
