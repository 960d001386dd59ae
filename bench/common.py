"""Shared pieces of the benchmarks: a private Mosquitto, percentiles, the machine's description."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The broker set-ups the latency is measured on: Mosquitto as shipped (Nagle's algorithm on, as most
# homes run it), and with `set_tcp_nodelay true`, as config/mosquitto/mosquitto.conf sets it.
BROKERS = {"stock": False, "nodelay": True}


@contextlib.contextmanager
def mosquitto(*, nodelay: bool = True) -> Iterator[int]:
    """A Mosquitto on a free loopback port; `nodelay` sends every message at once (no Nagle delay)."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        conf = Path(folder) / "mosquitto.conf"
        options = "set_tcp_nodelay true\n" if nodelay else ""
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n{options}log_dest none\n")
        proc = subprocess.Popen([exe, "-c", str(conf)])
        try:
            wait_for_port(port)
            yield port
        finally:
            proc.terminate()
            proc.wait(5)


def wait_for_port(port: int, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank), p in 0..100."""
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )
