"""A real `homeflow run` process in a home of its own, driven over its HTTP API, as a user starts it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .mosquitto import free_port

# Fast enough that the whole back-massage routine, question included, plays in seconds.
TIME_SCALE = "60"
START_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 60.0
# `homeflow` as a command, with the broker module as it is.
HOMEFLOW = (sys.executable, "-m", "homeflow.cli")


@dataclass
class Homeflow:
    proc: subprocess.Popen[str]
    http_port: int
    mqtt_port: int
    home: Path
    stderr: Path

    def request(self, method: str, path: str) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            connection.request(method, path, body=b"" if method == "POST" else None)
            response = connection.getresponse()
            body = json.loads(response.read())
        finally:
            connection.close()
        assert response.status == 200, body
        return body

    def wait_healthy(self) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self.proc.poll() is None, f"homeflow exited early:\n{self.log()}"
            try:
                health: dict[str, Any] = self.request("GET", "/api/health")
                if health["mqtt"]:
                    return health
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no healthy /api/health in time:\n{self.log()}"
            time.sleep(0.05)

    def events(self) -> Iterator[dict[str, Any]]:
        """The `state` events of /api/events, as they come."""
        connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=RUN_TIMEOUT_S)
        connection.request("GET", "/api/events")
        response = connection.getresponse()
        try:
            for raw in response:
                line = raw.decode().strip()
                if line.startswith("data: "):
                    yield json.loads(line[len("data: ") :])
        finally:
            connection.close()

    def run_once(self, routine: str) -> list[str]:
        """Start `routine` over the web API and follow its states until it is idle again after running."""
        events = self.events()
        next(events)
        assert self.request("POST", f"/api/routines/{routine}/start")["result"] == "started by web"
        states: list[str] = []
        for event in events:
            states.append(event["state"]["state"])
            if states[-1] == "idle" and "running" in states:
                break
        return states

    def rss_kib(self) -> int:
        """The process's resident memory."""
        return rss_kib(self.proc.pid)

    def children(self) -> list[int]:
        """The processes homeflow started that still run."""
        found: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            found += [int(pid) for pid in (task / "children").read_text().split()]
        return found

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        return self.stderr.read_text()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def start_homeflow(
    home: Path,
    mqtt_port: int,
    path: str,
    *,
    command: Sequence[str] = HOMEFLOW,
    args: Sequence[str] = (),
    cwd: Path | None = None,
    stderr_fd: int | None = None,
) -> Homeflow:
    """`homeflow run` with `HOME` = `home` (made with an empty `bin/`), the data in `home/data`, `PATH`
    = `path` (else `home/bin`), MQTT on `mqtt_port`, HTTP on a free port; in `cwd`, else `home`; its
    stderr into the file descriptor `stderr_fd`, else a log file beside `home`."""
    (home / "bin").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEFLOW_")}
    http_port = free_port()
    env |= {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "PATH": path or str(home / "bin"),
        "HOMEFLOW_MQTT_PORT": str(mqtt_port),
        "HOMEFLOW_HTTP_PORT": str(http_port),
        "HOMEFLOW_TIME_SCALE": TIME_SCALE,
    }
    stderr = home.parent / f"{home.name}-stderr.log"
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [*command, "run", *args],
            cwd=cwd or home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err if stderr_fd is None else stderr_fd,
            text=True,
        )
    return Homeflow(proc, http_port, mqtt_port, home, stderr)
