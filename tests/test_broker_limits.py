"""The embedded broker holds what Mosquitto holds, whichever one homeflow embeds: a real `homeflow run`
with its own broker, flooded by half-open connections, a 40 MB publish and more clients than it takes,
still answers a press, with its memory where it was."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from homeflow.broker import MAX_CONNECTIONS, MAX_PACKET_BYTES, STOP_WITHIN_S

from .harness import collecting
from .mosquitto import Broker, free_port
from .process import HOMEFLOW, Homeflow, rss_kib, start_homeflow

FLOOD = 500
BIG = 40 * 1024 * 1024
CHUNK = b"\0" * 65536
# Established or closed by the client and not yet by the broker: a socket the broker still holds.
HELD_STATES = {"01", "08"}  # ESTABLISHED, CLOSE_WAIT in /proc/net/tcp
CLOSED_WITHIN_S = 10.0
# homeflow whose embedded broker is amqtt, as on a machine without Mosquitto.
WITHOUT_MOSQUITTO = (
    "import sys, homeflow.broker as b; b.mosquitto_binary = lambda: None; "
    "from homeflow.cli import main; sys.exit(main(sys.argv[1:]))"
)
COMMANDS = {"mosquitto": HOMEFLOW, "amqtt": (HOMEFLOW[0], "-c", WITHOUT_MOSQUITTO)}


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(client_id: str) -> bytes:
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + _string(client_id)  # MQTT 3.1.1, clean session, keepalive 60
    return b"\x10" + _length(len(body)) + body


def held_by_broker(port: int) -> int:
    """Sockets the broker's side of `port` still holds (ESTABLISHED or CLOSE-WAIT)."""
    held = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] in HELD_STATES:
            held += 1
    return held


def wait_held(port: int, most: int, within: float = CLOSED_WITHIN_S) -> float:
    """Seconds until the broker holds at most `most` sockets; fails after `within`."""
    start = time.monotonic()
    while (held := held_by_broker(port)) > most:
        assert time.monotonic() - start < within, f"the broker still holds {held} sockets (expected {most})"
        time.sleep(0.1)
    return time.monotonic() - start


def half_open(port: int, count: int) -> None:
    """`count` clients that connect, send nothing, a partial CONNECT or a CONNECT cut short, and go."""
    whole = connect_packet("half-open")
    for i in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            if i % 3 == 1:
                s.sendall(whole[:7])
            elif i % 3 == 2:
                s.sendall(whole[:2])


def publish_big(port: int, size: int) -> bool:
    """Publish `size` bytes, retained; True when the broker dropped the connection."""
    topic = _string("big/retained")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(connect_packet("big-publisher"))
        assert s.recv(4) == b"\x20\x02\x00\x00"  # CONNACK, accepted
        try:
            s.sendall(b"\x31" + _length(len(topic) + size) + topic)
            for _ in range(size // len(CHUNK)):
                s.sendall(CHUNK)
            return s.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False


@contextlib.contextmanager
def clients(port: int, count: int) -> Iterator[int]:
    """`count` clients connecting at once and held; yields how many the broker accepted."""
    held: list[socket.socket] = []
    accepted = 0
    try:
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            held.append(s)
            s.sendall(connect_packet(f"crowd-{i}"))
        for s in held:
            with contextlib.suppress(OSError):
                accepted += s.recv(4) == b"\x20\x02\x00\x00"
        yield accepted
    finally:
        for s in held:
            s.close()


async def pressed(broker: Broker) -> None:
    """A press on the command topic starts the routine; then it is cancelled."""
    state = "homeflow/back-massage/state"
    async with collecting(broker, f"presser-{time.monotonic_ns()}", state) as seen:
        await seen.wait_for(state, lambda m: m.json["state"] == "idle")
        since = len(seen.messages)
        await seen.client.publish("homeflow/back-massage/set", "start", qos=1)
        await seen.wait_for(state, lambda m: m.json["state"] == "running", since=since)
        await seen.client.publish("homeflow/back-massage/set", "cancel", qos=1)
        await seen.wait_for(state, lambda m: m.json["state"] == "idle", since=since)


@pytest.fixture(params=sorted(COMMANDS))
def homeflow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Homeflow]:
    """homeflow with its bundled settings, so with an embedded broker: Mosquitto, or amqtt without it."""
    started = start_homeflow(tmp_path / "home", free_port(), "", command=COMMANDS[request.param])
    try:
        started.wait_healthy()
        yield started
    finally:
        started.kill()


def test_the_embedded_broker_holds_against_floods(homeflow: Homeflow) -> None:
    port = homeflow.mqtt_port
    broker = Broker("127.0.0.1", port)
    asyncio.run(pressed(broker))  # warmed up: the routine has been rendered and planned once
    own = held_by_broker(port)  # homeflow's own connection
    before = homeflow.rss_kib()

    half_open(port, FLOOD)
    closed_s = wait_held(port, own)
    assert publish_big(port, BIG), "a 40 MB publish was taken"
    after = homeflow.rss_kib()
    assert after - before < 10 * 1024, (before, after)

    for _ in range(2):  # and again once it has refused some
        with clients(port, MAX_CONNECTIONS + 20) as accepted:
            assert own + accepted <= MAX_CONNECTIONS
        wait_held(port, own)

    asyncio.run(pressed(broker))  # still answers
    children = homeflow.children()
    print(
        f"\nhalf-open gone in {closed_s:.1f} s; homeflow {before} -> {after} KiB, {homeflow.rss_kib()} KiB"
        f" after {accepted} clients; broker processes {[rss_kib(pid) for pid in children]} KiB"
    )
    assert homeflow.terminate() == 0
    assert "Traceback" not in homeflow.log()
    # The broker went with homeflow.
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]


def test_a_publish_at_the_limit_goes_through(homeflow: Homeflow) -> None:
    # Zigbee2MQTT's retained device list is a few hundred KB on a network of a dozen devices.
    port = homeflow.mqtt_port
    topic = _string("big/list")
    size = MAX_PACKET_BYTES - 5 - len(topic)  # the whole packet at the limit
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(connect_packet("lister"))
        assert s.recv(4) == b"\x20\x02\x00\x00"
        s.sendall(b"\x31" + _length(len(topic) + size) + topic + b"x" * size)
        s.sendall(b"\xc0\x00")  # PINGREQ: its answer comes after the publish was taken
        assert s.recv(2) == b"\xd0\x00"
    assert homeflow.terminate() == 0


def test_a_killed_homeflow_leaves_no_broker_behind(tmp_path: Path) -> None:
    homeflow = start_homeflow(tmp_path / "home", free_port(), "")
    try:
        homeflow.wait_healthy()
        children = homeflow.children()
        assert len(children) == 1  # Mosquitto
    finally:
        homeflow.kill()  # SIGKILL: homeflow stops nothing itself
    deadline = time.monotonic() + STOP_WITHIN_S + 5
    while Path(f"/proc/{children[0]}").exists():
        if time.monotonic() > deadline:
            os.kill(children[0], signal.SIGKILL)
            raise AssertionError("Mosquitto outlived homeflow")
        time.sleep(0.05)
    with socket.socket() as again:  # and its port is free for the next start
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", homeflow.mqtt_port))
