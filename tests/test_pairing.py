"""Pairing a phone over real HTTP on loopback: a one-time link becomes an HttpOnly session cookie that
the API accepts, the link works once and expires, and the token still works."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
from yarl import URL

from homeflow.clock import LoopClock
from homeflow.service import serve
from homeflow.settings import load
from homeflow.web.pairing import CODE_TTL_S, COOKIE, Pairing

from .mosquitto import Broker, free_port
from .web import TOKEN, web_settings


class WallClock(LoopClock):
    """The loop's clock, whose wall time a test moves on (a pairing code's minutes pass at once)."""

    def __init__(self) -> None:
        super().__init__()
        self.ahead = timedelta()

    def wall(self) -> datetime:
        return super().wall() + self.ahead

    def timestamp(self) -> float:
        return self.wall().timestamp()


@contextlib.asynccontextmanager
async def serving(config: Path, clock: WallClock) -> AsyncIterator[str]:
    """homeflow serving `config` in this loop; its URL once ready."""
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    service = asyncio.create_task(serve(load(config), stop, clock=clock, ready=ready))
    try:
        await asyncio.wait((service, ready), return_when=asyncio.FIRST_COMPLETED)
        if service.done():
            service.result()
        yield ready.result()
    finally:
        stop.set()
        await service


def browser() -> aiohttp.ClientSession:
    """A client that keeps cookies as a browser does (for an IP address too) and follows no redirect
    by itself, so each step shows."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_a_pairing_link_signs_a_browser_in_once_and_expires(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    config = web_settings(tmp_path, broker, prefix, free_port(), TOKEN)
    clock = WallClock()
    async with serving(config, clock) as url, browser() as phone, browser() as stranger:
        code = Pairing(TOKEN, clock.timestamp).code()  # as `homeflow run` and `homeflow pair` print it
        assert (await phone.get(f"{url}/api/routines")).status == 401
        assert (await (await phone.get(f"{url}/api/health")).json())["token"] is True

        paired = await phone.get(f"{url}/pair/{code}", allow_redirects=False)
        assert paired.status == 303 and paired.headers["Location"] == "../"
        cookie = paired.cookies[COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
        assert code not in cookie.value and TOKEN not in cookie.value
        page = URL(f"{url}/pair/{code}").join(URL(paired.headers["Location"]))
        assert page == URL(f"{url}/")
        landed = await phone.get(page)  # where the browser goes next: the page
        assert landed.status == 200 and "text/html" in landed.headers["Content-Type"]

        # The page's calls, with the cookie and no token: the page need not ask for one.
        assert (await (await phone.get(f"{url}/api/health")).json())["token"] is False
        routines = await phone.get(f"{url}/api/routines")
        assert routines.status == 200 and "stretch" in [r["id"] for r in (await routines.json())["routines"]]
        started = await phone.post(f"{url}/api/routines/stretch/start", headers={"Origin": url})
        assert started.status == 200, await started.text()
        assert (await phone.post(f"{url}/api/routines/stretch/cancel")).status == 200
        forged = await phone.post(f"{url}/api/routines/stretch/start", headers={"Origin": "http://evil.test"})
        assert forged.status == 403  # another site's page cannot use the cookie

        # Once only: the same link does nothing for anyone else.
        again = await stranger.get(f"{url}/pair/{code}", allow_redirects=False)
        assert again.status == 403 and COOKIE not in again.cookies
        assert "used or has expired" in (await again.json())["error"]
        assert (await stranger.get(f"{url}/api/routines")).status == 401
        stranger.cookie_jar.update_cookies({COOKIE: "forged.value"}, URL(url))
        assert (await stranger.get(f"{url}/api/routines")).status == 401

        # A code expires: one made now is refused once its minutes have passed.
        late = Pairing(TOKEN, clock.timestamp).code()
        clock.ahead += timedelta(seconds=CODE_TTL_S + 1)
        assert (await stranger.get(f"{url}/pair/{late}", allow_redirects=False)).status == 403
        assert (await phone.get(f"{url}/api/routines")).status == 200  # a session outlives its code

        # The token still works, as before.
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert (await stranger.get(f"{url}/api/routines", headers=bearer)).status == 200


def test_a_code_made_before_a_restart_is_refused_after_it() -> None:
    now = [1_800_000_000.0]
    code = Pairing(TOKEN, lambda: now[0]).code()
    now[0] += 5
    restarted = Pairing(TOKEN, lambda: now[0])
    assert not restarted.redeem(code)  # it may have been taken by the service before the restart
    fresh = restarted.code()
    assert not Pairing("another-token-0123456789", lambda: now[0]).redeem(fresh)
    assert not restarted.redeem("0x" + fresh) and not restarted.redeem(fresh.upper())
    assert restarted.redeem(fresh) and not restarted.redeem(fresh)
    one, other = restarted.code(), restarted.code()  # in the same second: each its own, each once
    assert one != other and restarted.redeem(other) and restarted.redeem(one)
