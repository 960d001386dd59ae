"""A small client of Home Assistant's REST API: read an entity's state, call a service."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from homeflow import jsontext
from homeflow.errors import HomeAssistantError
from homeflow.settings.model import HomeAssistantSettings

log = logging.getLogger(__name__)

# Well under the conductor's 5 s restore budget, so a dead Home Assistant costs a run seconds, not minutes.
REQUEST_TIMEOUT_S = 3.0
CONNECT_TIMEOUT_S = 2.0


class HomeAssistantApi:
    """Calls `url` with a long-lived access token; every failure is one `HomeAssistantError` line."""

    def __init__(self, url: str, token: str, *, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s))

    @classmethod
    def of(cls, settings: HomeAssistantSettings) -> HomeAssistantApi:
        if settings.url is None or settings.token is None:
            raise HomeAssistantError("Home Assistant lights need home_assistant.url and home_assistant.token")
        return cls(settings.url, settings.token)

    async def state(self, entity_id: str) -> dict[str, Any]:
        """`GET /api/states/<entity_id>`: the entity's `state` and `attributes`."""
        data = await self._request("GET", f"/api/states/{entity_id}", entity_id)
        if not isinstance(data, dict) or not isinstance(data.get("attributes", {}), dict):
            raise HomeAssistantError(
                f"Home Assistant at {self.url}: the state of {entity_id} is not an object"
            )
        return data

    async def services(self, domain: str) -> set[str]:
        """`GET /api/services`: the services Home Assistant has in `domain`."""
        data = await self._request("GET", "/api/services", "services")
        for entry in data if isinstance(data, list) else []:
            if isinstance(entry, dict) and entry.get("domain") == domain:
                return set(entry.get("services") or {})
        return set()

    async def call(self, domain: str, service: str, data: dict[str, Any]) -> None:
        """`POST /api/services/<domain>/<service>` with `data`."""
        await self._request("POST", f"/api/services/{domain}/{service}", f"{domain}.{service}", data)

    async def _request(self, method: str, path: str, what: str, body: dict[str, Any] | None = None) -> Any:
        # One session per request: a run makes a handful of calls, so a pooled connection would save
        # nothing, and no session outlives the call that needed it.
        try:
            async with (
                aiohttp.ClientSession(
                    timeout=self._timeout, headers=self._headers, json_serialize=jsontext.dumps
                ) as session,
                session.request(method, self.url + path, json=body) as response,
            ):
                if response.status == 401:
                    raise HomeAssistantError(
                        f"Home Assistant at {self.url} refused the token (401); create a long-lived access "
                        "token in your Home Assistant profile and set home_assistant.token"
                    )
                if response.status == 404:
                    raise HomeAssistantError(f"Home Assistant at {self.url} has no {what} (404)")
                if response.status >= 400:
                    detail = " ".join((await response.text()).split())[:160]
                    raise HomeAssistantError(
                        f"Home Assistant at {self.url}: {what} failed with {response.status}: {detail}"
                    )
                return await response.json(loads=jsontext.loads, content_type=None)
        except TimeoutError:
            raise HomeAssistantError(
                f"Home Assistant at {self.url} did not answer {what} within {self._timeout.total:g} s"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror or "connection failed"
            raise HomeAssistantError(
                f"cannot reach Home Assistant at {self.url}: {reason}; is it running, is the URL right?"
            ) from None
        except aiohttp.ClientError as exc:
            raise HomeAssistantError(f"Home Assistant at {self.url}: {what}: {exc}") from None
        except ValueError as exc:
            raise HomeAssistantError(
                f"Home Assistant at {self.url}: {what} did not answer JSON: {exc}"
            ) from None
