"""Serving the application: bind, say where, and clean up when the service stops."""

from __future__ import annotations

import asyncio
import errno
import logging
import os

from aiohttp import web

from homeflow.errors import HomeflowError
from homeflow.settings.http import token_problem
from homeflow.settings.model import HttpSettings
from homeflow.web.site import BoundedSite, connection_cap

log = logging.getLogger(__name__)

# Open event streams are ended at shutdown; anything slower than this is cut off.
SHUTDOWN_TIMEOUT_S = 2.0
# A browser or curl sends its request line and headers at once: a connection that has not finished
# them this long after it opened (or after its last response, when kept alive) is closed, so clients
# that trickle headers cannot hold connections open. aiohttp's keep-alive timer does this: it closes
# a connection that is waiting for a complete request, and never one whose request is being handled.
HEADER_TIMEOUT_S = 10.0
_HINTS = {
    errno.EADDRINUSE: "another program (another homeflow?) listens there: stop it or change http.port",
    errno.EADDRNOTAVAIL: "no network interface of this machine has that address: check http.bind",
    errno.EACCES: "ports below 1024 need privileges: choose another http.port",
}


class WebError(HomeflowError):
    """The web server cannot listen where the settings say."""


async def run_web(app: web.Application, http: HttpSettings, ready: asyncio.Future[str]) -> None:
    """Serve `app` until cancelled; `ready` gets the URL once listening, or the `WebError` why not."""
    if problem := token_problem(http.token, http.bind):
        ready.set_exception(WebError(f"will not serve the dashboard on {http.bind}: {problem}"))
        return
    # No access log: the service's log is for people, and the dashboard polls nothing worth a line.
    runner = web.AppRunner(
        app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S, keepalive_timeout=HEADER_TIMEOUT_S
    )
    await runner.setup()
    try:
        site = BoundedSite(runner, http.bind, http.port, cap=connection_cap())
        try:
            await site.start()
        except OSError as exc:
            ready.set_exception(WebError(describe(exc, http)))
            return
        host, port = site.addresses[0]
        shown = f"[{host}]" if ":" in host else host
        url = http.public_url or f"http://{shown}:{port}"
        log.info("dashboard and API on %s/", url)
        ready.set_result(url)
        await asyncio.get_running_loop().create_future()  # until the service cancels this task
    finally:
        await runner.cleanup()


def describe(exc: OSError, http: HttpSettings) -> str:
    """One line telling why the web server cannot listen, and what to change."""
    # asyncio puts the address into strerror; the bare reason reads better next to our own.
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    hint = _HINTS.get(exc.errno or 0)
    where = f"[{http.bind}]" if ":" in http.bind else http.bind
    return f"cannot serve the dashboard on {where}:{http.port}: {reason.lower()}" + (
        f"; {hint}" if hint else ""
    )
