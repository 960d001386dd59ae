"""What handlers share through the application (typed keys, never globals), and JSON errors."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from homeflow import jsontext
from homeflow.conductor import Conductor
from homeflow.settings.model import HttpSettings
from homeflow.web.pairing import COOKIE, Pairing

# One queue per open event stream; `None` in a queue ends that stream.
StreamQueue = asyncio.Queue[dict[str, Any] | None]

CONDUCTOR = web.AppKey("conductor", Conductor)
HTTP = web.AppKey("http", HttpSettings)
PAIRING = web.AppKey("pairing", Pairing)
STREAMS: web.AppKey[set[StreamQueue]] = web.AppKey("streams")


class ApiError(Exception):
    """A request the API refuses: its status and the one line telling the client why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def needs_token(request: web.Request) -> bool:
    """Whether this client must send the token to the API: not when none is set, nor through Home
    Assistant's Ingress proxy, nor from a paired browser (as the application's guard decides)."""
    http = request.app[HTTP]
    if http.ingress_proxy is not None and request.remote == http.ingress_proxy:
        return False
    # An empty token guards nothing: never compare against it.
    return bool(http.token) and not is_paired(request)


def is_paired(request: web.Request) -> bool:
    """Whether the request carries the session cookie of a paired browser."""
    session = request.cookies.get(COOKIE)
    return session is not None and request.app[PAIRING].is_session(session)


def error(status: int, message: str) -> web.Response:
    response = web.json_response({"error": message, "status": status}, status=status, dumps=jsontext.dumps)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="homeflow"'
    return response
