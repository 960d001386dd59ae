"""What homeflow asks the Home Assistant Supervisor, from inside the add-on (homeflow.addon): the MQTT
broker its MQTT service names, the system's time zone, and the add-on's own slug (for the link to its
Ingress panel). Every answer is read defensively: a Supervisor that does not say is one line."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from homeflow import jsontext
from homeflow.errors import HomeflowError

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10.0


class AddonError(HomeflowError):
    """The add-on cannot start: the Supervisor did not give what homeflow needs. One line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True, slots=True)
class Broker:
    """The Supervisor's MQTT service: the broker (the Mosquitto add-on) and homeflow's login on it."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl: bool = False


async def get(session: aiohttp.ClientSession, base: str, path: str) -> dict[str, Any]:
    """The `data` of the Supervisor's answer to `GET path`; an `AddonError` telling why not."""
    what = f"the Supervisor at {base} (GET {path})"
    try:
        async with session.get(base + path) as response:
            status = response.status
            try:
                body = await response.json(loads=jsontext.loads, content_type=None)
            except ValueError:
                body = None
    except TimeoutError:
        raise AddonError([f"{what} did not answer within {REQUEST_TIMEOUT_S:g} s"]) from None
    except aiohttp.ClientError as exc:
        raise AddonError([f"cannot reach {what}: {exc}"]) from None
    said = body.get("message") if isinstance(body, dict) else None
    detail = f": {said}" if isinstance(said, str) and said else ""
    if status in (401, 403):
        raise AddonError([f"{what} refused SUPERVISOR_TOKEN ({status}{detail})"])
    data = body.get("data") if isinstance(body, dict) and body.get("result") == "ok" else None
    if status >= 400 and path == "/services/mqtt":
        raise AddonError(
            [f"no MQTT broker from {what} ({status}{detail}): install and start the Mosquitto broker add-on"]
        )
    if status >= 400 or not isinstance(data, dict):
        raise AddonError([f"{what} answered {status}{detail or ', not the JSON expected'}"])
    return data


def broker(data: dict[str, Any]) -> Broker:
    host, port = data.get("host"), data.get("port")
    username, password = data.get("username"), data.get("password")
    if not isinstance(host, str) or not host or not isinstance(port, int) or isinstance(port, bool):
        raise AddonError([f"the Supervisor's MQTT service gave no broker address: {sorted(data)}"])
    return Broker(
        host,
        port,
        username if isinstance(username, str) else None,
        password if isinstance(password, str) else None,
        data.get("ssl") is True,
    )


async def time_zone(session: aiohttp.ClientSession, base: str) -> str | None:
    """The time zone set in Home Assistant; None (the container's own) if the Supervisor does not say."""
    try:
        zone = (await get(session, base, "/info")).get("timezone")
    except AddonError as exc:
        log.warning("%s; using the system's time zone", exc)
        return None
    return zone if isinstance(zone, str) and zone else None


async def panel(session: aiohttp.ClientSession, base: str) -> str | None:
    """Home Assistant's link to this add-on's Ingress panel, from the slug the Supervisor installed it
    under; None (no "Visit" link) if the Supervisor does not say."""
    try:
        slug = (await get(session, base, "/addons/self/info")).get("slug")
    except AddonError as exc:
        log.warning("%s; the devices get no link to the dashboard", exc)
        return None
    return f"homeassistant://hassio/ingress/{slug}" if isinstance(slug, str) and slug else None
