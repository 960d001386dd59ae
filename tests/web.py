"""The whole service in a thread of its own, for tests that speak HTTP to it as a browser or curl would."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homeflow.service import serve
from homeflow.settings import load

from .harness import shipped_routine, write_settings
from .mosquitto import Broker, free_port

TOKEN = "test-token-0123456789abcdef"

# Three steps at routine pace; at a time scale of 20 the first lasts 2 s and the others 10 s, slow enough
# to see and steer each step, and a test cancels the run long before it ends.
STRETCH = """\
name: Neck stretch
description: A short routine for the web tests.
reps: {start: 3, max: 6, step: 3}
steps:
  - title: Warm up
    do:
      - wait: {seconds: 40, say: Roll your shoulders.}
  - title: Hold the stretch
    do:
      - wait: {seconds: 200, say: "Tilt your head, {reps} breaths."}
  - title: Relax
    do:
      - wait: {seconds: 200, say: Let go.}
"""


def web_settings(
    folder: Path,
    broker: Broker,
    prefix: str,
    port: int,
    token: str | None,
    *,
    routines: Mapping[str, str] | None = None,
    body: str = "",
) -> Path:
    """Settings with `routines` (by default the shipped back-massage routine and the stretch), serving
    HTTP on `port`; `body` adds sections (buttons, automations…)."""
    http: dict[str, Any] = {"port": port, **({"token": token} if token else {})}
    routines = routines or {"back-massage": shipped_routine(), "stretch": STRETCH}
    return write_settings(folder, broker, prefix, body, routines=routines, http=http)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        assert self.headers.get("content-type", "").startswith("application/json"), self.headers
        return json.loads(self.body)


@dataclass
class Service:
    """homeflow serving on 127.0.0.1:`port`, run by `serve()` on an event loop in another thread."""

    config: Path
    port: int
    token: str | None
    time_scale: float
    _stop: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _error: list[BaseException] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve, and return once `serve()` says homeflow is ready (connected, recovered, listening)."""
        ready = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            said_ready: asyncio.Future[str] = self._loop.create_future()
            said_ready.add_done_callback(lambda _: ready.set())
            await serve(load(self.config), self._stop, time_scale=self.time_scale, ready=said_ready)

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as exc:
                self._error.append(exc)
            finally:
                ready.set()

        self._thread = threading.Thread(target=run, name="homeflow", daemon=True)
        self._thread.start()
        assert ready.wait(10), "homeflow did not get ready within 10 s"
        assert not self._error, self._error

    def stop(self) -> None:
        """Stop as SIGTERM would, and wait until the service has ended; again is a no-op."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)
            assert not self._thread.is_alive(), "homeflow did not stop within 15 s"
        assert not self._error, self._error

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        token: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request with the raw `path` (no normalisation); the service's token unless `token` says."""
        sent = dict(headers or {})
        token = self.token if token == "" else token
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()


@contextlib.contextmanager
def running(
    folder: Path,
    broker: Broker,
    prefix: str,
    *,
    token: str | None = TOKEN,
    time_scale: float = 20,
    history: Callable[[Path], None] | None = None,
    routines: Mapping[str, str] | None = None,
    body: str = "",
) -> Iterator[Service]:
    """The service on a free port; `history` may fill its journal (given its path) before it starts;
    `body` adds settings sections."""
    port = free_port()
    config = web_settings(folder, broker, prefix, port, token, routines=routines, body=body)
    service = Service(config, port, token, time_scale)
    if history is not None:
        history(folder / "journal.db")
    try:
        service.start()
        yield service
    finally:
        service.stop()


class Events:
    """An open `/api/events` stream, read one event at a time."""

    def __init__(self, service: Service) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
        headers = {"Authorization": f"Bearer {service.token}"} if service.token else {}
        self.connection.request("GET", "/api/events", headers=headers)
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type") == "text/event-stream"

    def next(self) -> dict[str, Any] | None:
        """The next event's data; None once the server has ended the stream cleanly."""
        kind, data = "", ""
        while True:
            line = self.response.readline().decode()
            if not line:
                return None
            if line == "\n" and data:
                assert kind == "state"
                return dict(json.loads(data))
            if line.startswith("event: "):
                kind = line[7:].strip()
            elif line.startswith("data: "):
                data = line[6:]

    def until(self, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while (event := self.next()) is not None:
            if check(event):
                return event
        raise AssertionError("the event stream ended first")

    def close(self) -> None:
        self.connection.close()
