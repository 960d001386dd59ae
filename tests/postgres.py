"""PostgreSQL for the tests: a throwaway cluster (Debian's `postgresql` package) made with `initdb` in a
temporary folder, listening on a free loopback port, trusted on loopback; a fresh database per test.
`initdb` refuses root, so as root the cluster runs as the unprivileged user `homeflow-test`."""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from homeflow.journal import Database

from .mosquitto import free_port

USER = "homeflow-test"  # the system user the cluster runs as when the tests run as root
ROLE = "homeflow"  # the role homeflow connects as
START_WITHIN_S = 30


def binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        pytest.fail("PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it")
    return Path(found[-1]).parent


def _as_user() -> list[str]:
    """The prefix that runs a command as the cluster's user: `runuser` as root, nothing otherwise."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(USER)
    except KeyError:
        # Test processes side by side may both add it: whichever comes second is refused, and fine.
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            check=False,
            capture_output=True,
        )
        pwd.getpwnam(USER)  # there now, or the error says why not
    return ["runuser", "-u", USER, "--"]


@dataclass
class Postgres:
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="homeflow-pg-")))
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _names: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str, role: str = ROLE) -> str:
        return f"postgresql://{role}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        bin_ = binaries()
        prefix = _as_user()
        if prefix:
            shutil.chown(self.folder, USER)
        self.folder.chmod(0o700)
        subprocess.run(
            [*prefix, bin_ / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        with (self.folder / "postgres.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    *prefix,
                    bin_ / "postgres",
                    "-D",
                    self.data,
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.folder}",
                    "-c",
                    "fsync=off",  # a throwaway cluster: nothing to keep across a crash
                    "-c",
                    "full_page_writes=off",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_WITHIN_S
        while self._psql("postgres", "SELECT 1", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"PostgreSQL did not start: {(self.folder / 'postgres.log').read_text()}")
            time.sleep(0.1)
        self._psql("postgres", f"CREATE ROLE {ROLE} LOGIN")

    def _psql(self, database: str, sql: str, *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [
                binaries() / "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAtc",
                sql,
            ],
            check=check,
            capture_output=True,
        )

    def database(self) -> Database:
        """A new, empty database owned by homeflow's role."""
        name = f"t{next(self._names)}"
        self._psql("postgres", f"CREATE DATABASE {name} OWNER {ROLE} TEMPLATE template0")
        return Database(self.url(name))

    def sql(self, database: Database, sql: str) -> str:
        """Run `sql` as the superuser in `database`; what it prints."""
        name = database.url.rpartition("/")[2]
        return self._psql(name, sql).stdout.decode().strip()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # runuser passes the signal on: a smart shutdown
            try:
                self.proc.wait(START_WITHIN_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.folder, ignore_errors=True)
