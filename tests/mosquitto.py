"""Mosquitto for the tests: a real broker on loopback ports of its own, for the whole session or for one
test that kills it and starts it again on the same port (with a password file or TLS if it asks)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

START_WITHIN_S = 20  # generous: the machine may be busy


@dataclass(frozen=True)
class Broker:
    host: str
    port: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mosquitto:
    """Mosquitto listening on 127.0.0.1:`port` (and `tls_port`), configured in `folder`; it keeps its
    ports across `kill()` and `start()`."""

    folder: Path
    port: int = field(default_factory=free_port)
    conf_extra: str = ""
    anonymous: bool = True
    tls_port: int | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def broker(self) -> Broker:
        return Broker("127.0.0.1", self.port)

    def start(self) -> None:
        """Start it and return once every listener takes connections."""
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            pytest.fail("mosquitto is not installed (apt-get install mosquitto); .ci/run installs it")
        conf, log = self.folder / "mosquitto.conf", self.folder / "mosquitto.log"
        tls = f"listener {self.tls_port} 127.0.0.1\n" if self.tls_port else ""
        # `user root`: run as root, Mosquitto 2 drops to its own user before reading the password file
        # and certificates, which then sit in a tmp folder only root may read.
        conf.write_text(
            f"user root\nlistener {self.port} 127.0.0.1\n{tls}"
            f"allow_anonymous {str(self.anonymous).lower()}\npersistence false\nset_tcp_nodelay true\n"
            f"{self.conf_extra}"
        )
        with log.open("ab") as log_file:
            self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_WITHIN_S
        for port in (self.port, self.tls_port):
            while port is not None:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        self.proc.kill()
                        pytest.fail(f"mosquitto did not start on port {port}: {log.read_text()}")
                    time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: no goodbye to any client, nothing saved."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(START_WITHIN_S)
        self.proc = None

    def stop(self) -> None:
        """Stop it if it runs, and wait until it has."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None
