"""`GET /pair/CODE`: a one-time pairing link (printed by `homeflow run` and `homeflow pair`) becomes
an HttpOnly session cookie, and the browser lands on the dashboard, signed in."""

from __future__ import annotations

from aiohttp import web

from homeflow.web.keys import HTTP, PAIRING, ApiError
from homeflow.web.pairing import COOKIE, SESSION_S


async def pair(request: web.Request) -> web.StreamResponse:
    """Take the code once, set the session cookie, and send the browser to the page."""
    if not request.app[HTTP].token:
        raise ApiError(404, "this homeflow has no http.token: its page needs no pairing")
    if not request.app[PAIRING].redeem(request.match_info["code"]):
        raise ApiError(
            403, "this pairing link has been used or has expired: `homeflow pair` prints a new one"
        )
    # Relative, so the page is found under whatever path prefix a proxy serves homeflow at.
    response = web.Response(status=303, headers={"Location": "../"})
    response.set_cookie(
        COOKIE,
        request.app[PAIRING].session(),
        max_age=SESSION_S,
        path="/",
        httponly=True,  # out of reach of any script
        samesite="Strict",  # never sent along with a request another site makes
        secure=request.secure,
    )
    # The code is spent, but keep the link out of caches and other sites' logs all the same.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
