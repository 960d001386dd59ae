"""The embedded broker: a real MQTT broker for other clients, reused when one already listens; Mosquitto
as a child process where it is installed, amqtt inside homeflow where it is not."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest

from homeflow import broker as embedded
from homeflow.broker import (
    FALLBACK_WARNING,
    EmbeddedAmqtt,
    EmbeddedBroker,
    EmbeddedBrokerError,
    EmbeddedMosquitto,
    mosquitto_binary,
    start_embedded_broker,
)

from .harness import first_messages
from .mosquitto import Broker, free_port

KINDS: dict[str, Callable[[int], EmbeddedBroker]] = {
    "mosquitto": lambda port: EmbeddedMosquitto(port, mosquitto_binary() or "mosquitto"),
    "amqtt": EmbeddedAmqtt,
}

# A "mosquitto" that listens where its configuration says and ignores SIGTERM.
STUBBORN = f"""#!{sys.executable}
import re, signal, socket, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
port = int(re.search(r"^listener (\\d+)", open(sys.argv[2]).read(), re.M).group(1))
server = socket.create_server(("127.0.0.1", port))
print("stubborn running", flush=True)
time.sleep(60)
"""


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test once with Mosquitto installed and once without it."""
    if request.param == "amqtt":
        monkeypatch.setattr(embedded, "mosquitto_binary", lambda: None)
    return str(request.param)


async def test_embedded_broker_serves_clients_and_frees_its_port(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    async with asyncio.TaskGroup() as tasks:
        broker = await start_embedded_broker(port, tasks)
        assert broker is not None and broker.kind == kind
        async with aiomqtt.Client("127.0.0.1", port, identifier="keeper") as keeper:
            await keeper.subscribe("lights/#", qos=1)  # another client's filter, held while the others come
            async with aiomqtt.Client("127.0.0.1", port, identifier="writer") as writer:
                await writer.publish("lights/room", b'{"brightness": 35}', qos=1, retain=True)
            # A subscriber gets the retained state; a client subscribed elsewhere gets nothing unasked.
            there = Broker("127.0.0.1", port)
            lights = await first_messages(there, "reader-m1", "lights/+")
            assert [(m.topic, m.payload) for m in lights] == [("lights/room", b'{"brightness": 35}')]
            assert await first_messages(there, "reader-m2", "buttons/+") == []
        await broker.close()
    with socket.socket() as again:
        # Released: the next broker can listen here (as brokers do, with SO_REUSEADDR: the connections
        # it closed may linger in TIME-WAIT).
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()
    # Only the fallback says it is one.
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ([FALLBACK_WARNING] if kind == "amqtt" else [])


async def test_a_taken_port_is_one_clear_error(kind: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]  # bound, not listening: nothing to reuse, nothing can bind
        errors: list[BaseException] = []
        try:
            async with asyncio.TaskGroup() as tasks:
                await KINDS[kind](port).start(tasks)
        except* EmbeddedBrokerError as group:
            errors += group.exceptions
    assert len(errors) == 1
    message = str(errors[0])
    assert message.startswith(f"cannot start the embedded MQTT broker on 127.0.0.1:{port}: ")
    assert "\n" not in message
    if kind == "mosquitto":
        assert message.endswith("mosquitto exited with status 1: Address already in use"), message


async def test_a_broker_already_listening_is_used(broker: Broker) -> None:
    async with asyncio.TaskGroup() as tasks:
        assert await start_embedded_broker(broker.port, tasks) is None


async def test_mosquitto_logs_into_homeflows_log_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="homeflow.broker")
    port = free_port()
    async with asyncio.TaskGroup() as tasks:
        broker = await start_embedded_broker(port, tasks)
        assert isinstance(broker, EmbeddedMosquitto)
        async with aiomqtt.Client("127.0.0.1", port, identifier="visitor"):
            pass
        await broker.close()
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("mosquitto: ")]
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.getMessage() in said)
    assert any("visitor" in line for line in said), said
    assert f"embedded MQTT broker listening on 127.0.0.1:{port} (mosquitto)" in caplog.messages


async def test_mosquitto_that_ignores_sigterm_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(embedded, "STOP_WITHIN_S", 0.5)
    stubborn = tmp_path / "mosquitto"
    stubborn.write_text(STUBBORN)
    stubborn.chmod(0o755)
    async with asyncio.TaskGroup() as tasks:
        broker = EmbeddedMosquitto(free_port(), str(stubborn))
        await broker.start(tasks)
        assert broker.pid is not None
        started = time.monotonic()
        await broker.close()
    assert 0.5 <= time.monotonic() - started < 5
    with pytest.raises(ProcessLookupError):
        os.kill(broker.pid, 0)
    assert "the embedded MQTT broker did not stop within 0.5 s; killing it" in caplog.messages


async def test_mosquitto_gone_on_its_own_ends_the_service_with_why() -> None:
    errors: list[BaseException] = []
    try:
        async with asyncio.TaskGroup() as tasks:
            broker = EmbeddedMosquitto(free_port(), mosquitto_binary() or "mosquitto")
            await broker.start(tasks)
            assert broker.pid is not None
            os.kill(broker.pid, signal.SIGKILL)
            await asyncio.sleep(30)  # the group is cancelled before this ends
    except* EmbeddedBrokerError as group:
        errors += group.exceptions
    assert len(errors) == 1
    assert str(errors[0]).startswith("the embedded MQTT broker was killed by SIGKILL (its last line: ")
