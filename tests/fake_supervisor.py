"""A fake Home Assistant Supervisor on loopback: the parts of its API the add-on uses. `/services/mqtt`
answers like the Supervisor does with the Mosquitto add-on installed (or without it, `Service not
enabled`), `/info` with the system's time zone, `/addons/self/info` with the add-on's slug, and
`/core/api/...` is a fake Home Assistant's REST API, as the Supervisor proxies Home Assistant's for
add-ons with `homeassistant_api: true`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .fake_home_assistant import TOKEN as HOME_ASSISTANT_TOKEN
from .fake_home_assistant import FakeHomeAssistant

# The add-on's SUPERVISOR_TOKEN. The Supervisor's proxy to Home Assistant takes it; the fake Home
# Assistant behind `/core` checks the same token.
TOKEN = HOME_ASSISTANT_TOKEN


@dataclass
class FakeSupervisor:
    """The Supervisor: `mqtt` is its MQTT service's data (None: no broker add-on), `time_zone` the
    system's; every request is recorded as `METHOD path`, and a wrong token gets 401."""

    home_assistant: FakeHomeAssistant = field(default_factory=lambda: FakeHomeAssistant({}))
    mqtt: dict[str, Any] | None = None
    time_zone: str = "Europe/Berlin"
    slug: str = "local_homeflow"  # the add-on's, as installed from a local folder
    requests: list[str] = field(default_factory=list)
    url: str = ""

    @web.middleware
    async def _authorised(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        if request.path.startswith("/core/"):
            return await handler(request)  # Home Assistant checks the token itself
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"result": "error", "message": "Unauthorized"}, status=401)
        return await handler(request)

    async def _mqtt(self, _request: web.Request) -> web.Response:
        if self.mqtt is None:
            return web.json_response({"result": "error", "message": "Service not enabled"}, status=400)
        return web.json_response({"result": "ok", "data": self.mqtt})

    async def _info(self, _request: web.Request) -> web.Response:
        data = {"supervisor": "2026.08.0", "homeassistant": "2026.8.1", "timezone": self.time_zone}
        return web.json_response({"result": "ok", "data": data})

    async def _addon_info(self, _request: web.Request) -> web.Response:
        return web.json_response({"result": "ok", "data": {"name": "homeflow", "slug": self.slug}})

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeSupervisor]:
        app = web.Application(middlewares=[self._authorised])
        app.router.add_get("/services/mqtt", self._mqtt)
        app.router.add_get("/info", self._info)
        app.router.add_get("/addons/self/info", self._addon_info)
        fake = self.home_assistant
        app.router.add_get("/core/api/states/{entity_id}", fake._get_state)
        app.router.add_post("/core/api/services/{domain}/{service}", fake._call_service)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield self
        finally:
            await runner.cleanup()
