"""Shared fixtures: a real Mosquitto broker on a free loopback port, brokers of a test's own, and
per-test topic prefixes."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .mosquitto import Broker, Mosquitto, free_port

REPO = Path(__file__).resolve().parent.parent


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
