"""Connections that never send a request cannot use up homeflow's files: a real `homeflow run` with a low
file limit keeps at most its cap of HTTP connections, says so once, and answers again once they go."""

from __future__ import annotations

import contextlib
import http.client
import os
import resource
import select
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from .harness import write_settings
from .mosquitto import Broker
from .process import HOMEFLOW, Homeflow, start_homeflow

FILE_LIMIT = 128  # a quarter of it, 32, is the most HTTP connections homeflow keeps
CAP = FILE_LIMIT // 4
IDLE = 150  # more connections than files
SETTLE_S = 1.0
ANSWER_WITHIN_S = 3.0
FREE_FILES = 20  # what the lowered limit leaves homeflow beyond the files it has open


@contextlib.contextmanager
def running(tmp_path: Path, broker: Broker, prefix: str, *command: str) -> Iterator[Homeflow]:
    home = tmp_path / "home"
    write_settings(home, broker, prefix)
    homeflow = start_homeflow(home, broker.port, "", command=command or HOMEFLOW)
    try:
        homeflow.wait_healthy()
        yield homeflow
    finally:
        homeflow.kill()


@contextlib.contextmanager
def idle_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections to homeflow that send nothing, closed at the end."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def still_open(sockets: list[socket.socket]) -> int:
    """How many of `sockets` homeflow has not closed (nothing to read: no end of stream)."""
    readable, _, _ = select.select(sockets, [], [], 0)
    return len(sockets) - len(readable)


def answers_health(homeflow: Homeflow) -> float:
    """Seconds until `/api/health` answers on a fresh connection."""
    started = time.monotonic()
    while True:
        try:
            homeflow.request("GET", "/api/health")
            return time.monotonic() - started
        except (OSError, http.client.HTTPException):
            assert time.monotonic() - started < ANSWER_WITHIN_S, "/api/health did not answer again"
            time.sleep(0.05)


def lines_about_connections(log: str) -> list[str]:
    return [line for line in log.splitlines() if "connections" in line]


def test_connections_past_the_cap_are_closed_at_once_and_said_once(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    prlimit = shutil.which("prlimit")
    assert prlimit, "prlimit (util-linux) is needed"
    with running(tmp_path, broker, prefix, prlimit, f"--nofile={FILE_LIMIT}", *HOMEFLOW) as homeflow:
        with idle_connections(homeflow.http_port, IDLE) as sockets:
            time.sleep(SETTLE_S)
            held = still_open(sockets)
        took = answers_health(homeflow)
        log = homeflow.log()
    assert held <= CAP, f"homeflow held {held} idle connections"
    assert took < ANSWER_WITHIN_S
    assert "Traceback" not in log, log[:2000]
    said = lines_about_connections(log)
    assert len(said) == 1 and f"{CAP} HTTP connections open" in said[0], said


def test_an_accept_without_files_is_one_line_and_homeflow_answers_after(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    with running(tmp_path, broker, prefix) as homeflow:
        pid = homeflow.proc.pid
        # A limit lowered under a running homeflow (or files taken by other parts of it) leaves fewer
        # files than its cap of connections: accept itself fails.
        limit = len(os.listdir(f"/proc/{pid}/fd")) + FREE_FILES
        _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, hard))
        with idle_connections(homeflow.http_port, FREE_FILES * 3):
            time.sleep(SETTLE_S * 2)  # several tries of accept
        took = answers_health(homeflow)
        log = homeflow.log()
    assert took < ANSWER_WITHIN_S
    assert "Traceback" not in log, log[:2000]
    said = lines_about_connections(log)
    assert len(said) == 1 and "too many open files" in said[0], said
