"""Shared fixtures: a real Mosquitto broker on a free loopback port, brokers of a test's own,
per-test topic prefixes, and a real PostgreSQL for the journal tests."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from homeflow.journal import Database

from .mosquitto import Broker, Mosquitto, free_port
from .postgres import Postgres

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--takeover-kills",
        type=int,
        default=None,
        help="how many times test_faults_takeover kills an instance (default 20)",
    )


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    mosquitto = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    mosquitto.start()
    yield mosquitto.broker
    mosquitto.stop()


@pytest.fixture(name="mosquitto")
def mosquitto_fixture(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Makes brokers of this test's own, to kill and start again; every one is gone when the test ends."""
    made: list[Mosquitto] = []

    def make(conf_extra: str = "", *, anonymous: bool = True, tls_port: bool = False) -> Mosquitto:
        folder = tmp_path / f"mosquitto{len(made)}"
        folder.mkdir()
        mosquitto = Mosquitto(
            folder, conf_extra=conf_extra, anonymous=anonymous, tls_port=free_port() if tls_port else None
        )
        made.append(mosquitto)
        mosquitto.start()
        return mosquitto

    yield make
    for mosquitto in made:
        mosquitto.stop()


_prefixes = itertools.count()


@pytest.fixture
def prefix() -> str:
    """A topic prefix no other test uses, so retained messages never leak between tests."""
    return f"t{next(_prefixes)}-{int(time.time() * 1000) % 100000}"


@pytest.fixture(scope="session")
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rendered speech shared by every test: espeak-ng runs once per sentence per session."""
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One throwaway PostgreSQL cluster for the session, started when a test first asks for it."""
    cluster = Postgres()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_at(request: pytest.FixtureRequest, tmp_path: Path) -> Path | Database:
    """Where a test's journal lives, once in each store: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "journal.db"
    cluster: Postgres = request.getfixturevalue("postgres")
    return cluster.database()


@pytest.fixture
def postgres_if(request: pytest.FixtureRequest, journal_at: Path | Database) -> Postgres | None:
    """The cluster behind `journal_at` when it is a PostgreSQL database."""
    return request.getfixturevalue("postgres") if isinstance(journal_at, Database) else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium for one test module's pages (the system's, through Playwright)."""
    from .browser import chromium  # noqa: PLC0415 -- tests/browser.py imports this module

    with chromium() as launched:
        yield launched
