"""The dashboard page and its few static files, shipped inside the package."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from homeflow.web.keys import ApiError

STATIC = Path(__file__).resolve().parent / "static"
# Names only: no folders, no dot-files, a known type. Anything else is not a file we ship.
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\.(?:html|css|js|svg|ico|png)")
# The path Home Assistant's Ingress serves the page under (`/api/hassio_ingress/<token>`): plain path
# segments only, none starting with a dot, so it can only ever point within this origin.
INGRESS_PATH = "X-Ingress-Path"
_PREFIX = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+")
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def index(request: web.Request) -> web.Response:
    """The dashboard: one page, whose script is its own file (no inline script may run in it). Under a
    path prefix (`X-Ingress-Path`, from Home Assistant's Ingress) its relative URLs start there, and
    Home Assistant may show it in its own frame."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    prefix = request.headers.get(INGRESS_PATH, "")
    ingress = _PREFIX.fullmatch(prefix) is not None
    if ingress:
        page = page.replace("<head>", f'<head>\n<base href="{prefix}/">', 1)
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; "
        "img-src 'self' data:; form-action 'none'; "
        + (
            "base-uri 'self'; frame-ancestors 'self'"
            if ingress
            else "base-uri 'none'; frame-ancestors 'none'"
        )
    )
    return web.Response(
        text=page,
        content_type="text/html",
        headers={**_HEADERS, "Content-Security-Policy": policy},
    )


async def static(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    path = STATIC / name
    # The pattern already rules out `..` and separators; the parent check holds even if it were wrong.
    if not _NAME.fullmatch(name) or path.resolve().parent != STATIC or not path.is_file():
        raise ApiError(404, f"no such file: {name}")
    return web.FileResponse(path, headers=_HEADERS)
