"""Where the web server listens, accepting connections itself so that clients cannot use up the files
homeflow needs for everything else."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import resource
import socket
import time

from aiohttp import web

log = logging.getLogger(__name__)

# The most HTTP connections open at once, and never more than a quarter of the process's file limit
# (1,024 under systemd by default, so 256 there): a home's browsers need a handful, and the other
# files stay for MQTT, the journal, speech and players. Connections beyond it are closed at once.
MOST_CONNECTIONS = 256
# A refused connection or a failed accept is told at most this often, however many there are.
TELL_EVERY_S = 60.0
# After an accept fails (no file left), the listener rests this long; waiting clients stay queued.
ACCEPT_PAUSE_S = 0.5
BACKLOG = 128


def connection_cap() -> int:
    """The most HTTP connections homeflow keeps open, from its file limit as it is now."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MOST_CONNECTIONS
    return max(1, min(MOST_CONNECTIONS, soft // 4))


class Every:
    """Says yes at most once per `seconds`, so a flood of one problem is one log line a minute."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last = -seconds

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.seconds:
            return False
        self._last = now
        return True


class BoundedSite(web.BaseSite):
    """A TCP site like aiohttp's `TCPSite`, but with homeflow's own accept loop: at most `cap`
    connections open, and accept errors told once a minute instead of asyncio's traceback per try."""

    __slots__ = ("_accepting", "_failing", "_full", "_host", "_listeners", "_port", "cap")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *, cap: int) -> None:
        super().__init__(runner, backlog=BACKLOG)
        self._host, self._port, self.cap = host, port, cap
        self._listeners: list[socket.socket] = []
        self._accepting: list[asyncio.Task[None]] = []
        self._full, self._failing = Every(TELL_EVERY_S), Every(TELL_EVERY_S)

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Host and port of each listening socket."""
        return [sock.getsockname()[:2] for sock in self._listeners]

    async def start(self) -> None:
        """Listen on every address `host` names; an `OSError` if one cannot be taken."""
        await super().start()
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            self._host or None, self._port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        try:
            for family, kind, proto, _, address in dict.fromkeys(infos):
                self._listeners.append(listener := socket.socket(family, kind, proto))
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:  # as asyncio does: "::" is IPv6 only, IPv4 is its own
                    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                listener.bind(address)
                listener.listen(self._backlog)
                listener.setblocking(False)
        except OSError:
            self._close_listeners()
            raise
        self._accepting = [asyncio.create_task(self._accept(sock)) for sock in self._listeners]

    async def stop(self) -> None:
        for task in self._accepting:
            task.cancel()
        await asyncio.gather(*self._accepting, return_exceptions=True)
        self._accepting = []
        self._close_listeners()
        await super().stop()

    def _close_listeners(self) -> None:
        for listener in self._listeners:
            listener.close()
        self._listeners = []

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        while True:
            try:
                connection, _ = await loop.sock_accept(listener)
            except ConnectionAbortedError:
                continue  # the client gave up while queued
            except OSError as exc:
                # No file left (EMFILE, ENFILE) or no memory: trying again at once fails again.
                if self._failing.due():
                    log.warning("cannot accept HTTP connections: %s", _reason(exc))
                await asyncio.sleep(ACCEPT_PAUSE_S)
                continue
            if len(server.connections) >= self.cap:
                connection.close()
                if self._full.due():
                    log.warning(
                        "%d HTTP connections open, the most homeflow keeps: closing new ones at once",
                        self.cap,
                    )
                continue
            try:
                await loop.connect_accepted_socket(server, connection)
            except OSError:
                connection.close()


def _reason(exc: OSError) -> str:
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        reason += f" (homeflow's limit is {soft}; see `ulimit -n`, or LimitNOFILE= under systemd)"
    return reason
