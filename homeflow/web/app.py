"""The aiohttp application: routes, the guards every request passes, and JSON errors."""

from __future__ import annotations

import hmac
import logging
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from homeflow.conductor import Conductor
from homeflow.settings.http import is_loopback
from homeflow.settings.model import HttpSettings
from homeflow.speech import SpeechCache
from homeflow.web import api, audio, dashboard, events, signin
from homeflow.web.keys import CONDUCTOR, HTTP, PAIRING, STREAMS, ApiError, error, is_paired
from homeflow.web.pairing import Pairing

log = logging.getLogger(__name__)

# Commands carry at most a small JSON object; anything bigger is a mistake or an attack.
MAX_BODY_BYTES = 4096
AUDIO_ROUTE = "/audio/{name}"


def build_app(
    conductor: Conductor,
    http: HttpSettings,
    clips: SpeechCache | None = None,
    pairing: Pairing | None = None,
) -> web.Application:
    """The dashboard and the API over `conductor`, `clips` for speakers, and `pairing` of browsers
    (by default on the wall clock); no I/O until a request."""
    app = web.Application(middlewares=[_errors, _guard], client_max_size=MAX_BODY_BYTES)
    if clips is not None:
        app[audio.AUDIO] = clips
    app[CONDUCTOR] = conductor
    app[HTTP] = http
    app[PAIRING] = pairing or Pairing(http.token or "")
    app[STREAMS] = set()
    app.on_shutdown.append(events.close_streams)
    app.router.add_get("/", dashboard.index)
    app.router.add_get("/static/{name}", dashboard.static)
    app.router.add_get("/pair/{code}", signin.pair)
    app.router.add_get("/api/health", api.health)
    app.router.add_get("/api/routines", api.routines)
    app.router.add_get("/api/routines/{routine}/plan", api.plan)
    app.router.add_post("/api/routines/{routine}/{command}", api.command)
    app.router.add_get("/api/runs", api.runs)
    app.router.add_get("/api/events", events.stream, allow_head=False)  # a stream has no head to give
    app.router.add_get(AUDIO_ROUTE, audio.clip)
    return app


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes a JSON body with a 4xx status; only a bug in homeflow gives a 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error(exc.status, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error(exc.status, _describe(exc, request))
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error(500, "internal error; see the homeflow log")


def _describe(exc: web.HTTPException, request: web.Request) -> str:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return f"{exc.method} is not allowed here; use {', '.join(sorted(exc.allowed_methods))}"
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return f"request body larger than {MAX_BODY_BYTES} bytes"
    if isinstance(exc, web.HTTPNotFound):
        return f"no such resource: {request.path}"
    return exc.reason.lower()


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The token on the API (not asked of Home Assistant's Ingress proxy, when there is one), or a
    paired browser's session cookie; without a token, only loopback host names and same-origin
    commands."""
    http = request.app[HTTP]
    resource = request.match_info.route.resource
    if resource is not None and resource.canonical == AUDIO_ROUTE:
        # Speakers fetch clips by URL and cannot send a token; a clip's hashed name is its own guard.
        # The Host check is skipped too: a speaker names whatever address http.public_url gave it.
        return await handler(request)
    if http.ingress_proxy is not None and request.remote == http.ingress_proxy:
        # Home Assistant's Ingress: Home Assistant has checked the user's session, and the Supervisor
        # proxies the request from this address, which no other client on its network has.
        return await handler(request)
    if not http.token:  # an empty token guards nothing: never compare against it
        # Without a token, a web page elsewhere must not drive the API through the browser: a foreign
        # Host is DNS rebinding, a foreign Origin is cross-site request forgery.
        host = urlsplit(f"//{request.host}").hostname or ""
        if not is_loopback(host):
            raise ApiError(403, f"host {host!r} is not allowed without http.token")
        _same_origin(request)
    elif request.path.startswith("/api/") and request.path != "/api/health":
        if is_paired(request) and "Authorization" not in request.headers:
            # The cookie goes along with any request to this site, whoever made the page: a command
            # must come from this page (the cookie's SameSite=Strict says so too, in browsers that obey).
            _same_origin(request)
            return await handler(request)
        sent = request.headers.get("Authorization", "")
        scheme, _, token = sent.partition(" ")
        # Compared as bytes: compare_digest refuses non-ASCII str, and a header may hold anything.
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), http.token.encode()):
            reason = "missing" if not sent else "wrong"
            raise ApiError(401, f"{reason} token: send Authorization: Bearer <http.token>")
    return await handler(request)


def _same_origin(request: web.Request) -> None:
    """Refuse a command (anything but GET) that a page of another origin sends through the browser."""
    origin = request.headers.get("Origin")
    if request.method != "GET" and origin is not None and urlsplit(origin).netloc != request.host:
        raise ApiError(403, f"cross-origin request from {origin} refused")
