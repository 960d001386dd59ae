"""A fake Home Assistant at the network edge: its REST API for lights, on 127.0.0.1 and a free port."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "test-long-lived-access-token"
# What light.turn_on does to a light's colour mode, for the colour keys homeflow sends.
MODE_OF_COLOUR = {
    "color_temp_kelvin": "color_temp",
    "hs_color": "hs",
    "xy_color": "xy",
    "rgb_color": "rgb",
}


@dataclass
class Call:
    service: str
    data: dict[str, Any]


@dataclass
class FakeHomeAssistant:
    """Keeps light states, applies `light.turn_on`/`turn_off` roughly as Home Assistant does, and records
    every request; a wrong token gets 401, an unknown entity 404, and `stall` makes it never answer."""

    lights: dict[str, dict[str, Any]]
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
        if entity_id not in self.lights:
            raise web.HTTPNotFound(text='{"message": "Entity not found."}', content_type="application/json")
        return web.json_response({"entity_id": entity_id, **self.lights[entity_id]})

    async def _call_service(self, request: web.Request) -> web.Response:
        await self._authorised(request)
        service = f"{request.match_info['domain']}.{request.match_info['service']}"
        data = await request.json()
        self.calls.append(Call(service, data))
        light = self.lights.get(data.get("entity_id", ""))
        if light is None:
            return web.json_response([])
        attributes = light.setdefault("attributes", {})
        if service == "light.turn_off":
            light["state"] = "off"
            for key in ("brightness", "color_mode", *MODE_OF_COLOUR):
                attributes[key] = None
        elif service == "light.turn_on":
            light["state"] = "on"
            if "brightness_pct" in data:
                attributes["brightness"] = round(data["brightness_pct"] * 255 / 100)
            if "brightness" in data:
                attributes["brightness"] = data["brightness"]
            for key, mode in MODE_OF_COLOUR.items():
                if key in data:
                    for other in MODE_OF_COLOUR:
                        attributes[other] = None
                    attributes[key] = data[key]
                    attributes["color_mode"] = mode
        else:
            raise web.HTTPBadRequest(text=f"unknown service {service}")
        return web.json_response([{"entity_id": data["entity_id"], **light}])

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeHomeAssistant]:
        app = web.Application()
        app.router.add_get("/api/states/{entity_id}", self._get_state)
        app.router.add_post("/api/services/{domain}/{service}", self._call_service)
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
