"""The embedded MQTT broker: Mosquitto run as a child process where it is installed, else amqtt inside
homeflow; both on loopback only, anonymous, with a packet size and a connection limit."""

from __future__ import annotations

import abc
import asyncio
import collections
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import BrokerConfig, ListenerConfig
from amqtt.errors import AMQTTError, BrokerError

from homeflow.errors import HomeflowError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PROBE_TIMEOUT_S = 1.0
# Discovery configs and homeflow's messages are a few KB, but Zigbee2MQTT's retained device list grows
# with the network (a few hundred KB for a dozen devices): 4 MiB leaves room for a big network and
# still refuses a message that would take the machine's memory.
MAX_PACKET_BYTES = 4 * 1024 * 1024
# homeflow, Zigbee2MQTT, Home Assistant and a few tools; each connection costs an open file.
MAX_CONNECTIONS = 100
# Mosquitto 2.0 counts connections for `max_connections` wrong once it has refused some (the count
# drifts below zero: its issue 1460), so its open files are capped too: what it holds besides client
# sockets (standard streams, the listener, epoll, one spare it keeps for refusing) plus MAX_CONNECTIONS.
MOSQUITTO_OWN_FILES = 7
# Run by the Python that runs homeflow, with the files limit and Mosquitto's command: it caps the open
# files, asks Linux to send it SIGTERM when homeflow dies (a SIGKILLed homeflow leaves no broker
# behind), then becomes Mosquitto, in the same process. Done here rather than in a preexec_fn, which
# is unsafe in a process with threads.
LAUNCHER = """\
import os, resource, sys
wanted = int(sys.argv[1])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
files = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
if sys.platform == "linux":
    import ctypes, signal
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
os.execv(sys.argv[2], sys.argv[2:])
"""
# amqtt only: a client that has not sent its CONNECT by then is dropped (Mosquitto drops one after 90 s).
CONNECT_WITHIN_S = 10.0
START_WITHIN_S = 10.0
STOP_WITHIN_S = 5.0
MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
FALLBACK_WARNING = (
    "mosquitto not found: the embedded MQTT broker is amqtt, inside homeflow, where every retained "
    "message takes homeflow's memory and a stuck client its open files; install mosquitto "
    "(apt-get install mosquitto) and homeflow runs it instead, a broker of its own with its own limits"
)


class EmbeddedBrokerError(HomeflowError):
    """The embedded broker could not listen where the settings ask, or stopped on its own."""


async def is_listening(port: int, host: str = HOST) -> bool:
    """True when something accepts TCP connections on `host:port` (a broker, presumably)."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def mosquitto_binary() -> str | None:
    """The Mosquitto broker on PATH or where Debian puts it (sbin is often not on a user's PATH)."""
    found = shutil.which("mosquitto")
    if found is not None:
        return found
    return next((path for path in MOSQUITTO_PATHS if os.access(path, os.X_OK)), None)


class EmbeddedBroker(abc.ABC):
    """A broker on 127.0.0.1:`port` for this machine's homeflow and its neighbours, until `close()`."""

    kind = "?"

    def __init__(self, port: int) -> None:
        self.port = port
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def run(self, ready: asyncio.Future[None]) -> None:
        """Listen until `stop()`; `ready` is resolved once the port is bound, or fails with the reason."""

    async def start(self, tasks: asyncio.TaskGroup) -> None:
        """Serve as a task of `tasks`; returns once the port is bound."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = tasks.create_task(self.run(ready), name="mqtt broker")
        await ready

    async def close(self) -> None:
        """Stop and wait until the port is released."""
        self._stop.set()
        if self._task is not None:
            await asyncio.wait((self._task,))

    def _cannot_start(self, why: str) -> EmbeddedBrokerError:
        return EmbeddedBrokerError(f"cannot start the embedded MQTT broker on {HOST}:{self.port}: {why}")

    def _listening(self) -> None:
        log.info("embedded MQTT broker listening on %s:%d (%s)", HOST, self.port, self.kind)


def mosquitto_conf(port: int) -> str:
    lines = [
        "# The embedded broker of homeflow, written at its start and removed when it stops.",
        f"listener {port} {HOST}",
        "allow_anonymous true",
        "persistence false",
        f"max_packet_size {MAX_PACKET_BYTES}",
        f"max_connections {MAX_CONNECTIONS}",
        "set_tcp_nodelay true",
        "log_dest stderr",  # unbuffered: each line as it comes
        "log_timestamp false",
        *(f"log_type {kind}" for kind in ("error", "warning", "notice", "information")),
    ]
    if os.geteuid() == 0:
        # As root, Mosquitto would switch to a user of its own, which clears the signal it is to get when
        # homeflow dies; it stays homeflow's user (it listens on loopback and writes nothing).
        lines.append("user root")
    return "\n".join(lines) + "\n"


class EmbeddedMosquitto(EmbeddedBroker):
    """Mosquitto as a child process: its memory and sockets are its own, not the dashboard's."""

    kind = "mosquitto"

    def __init__(self, port: int, executable: str) -> None:
        super().__init__(port)
        self.executable = executable
        self.pid: int | None = None

    async def run(self, ready: asyncio.Future[None]) -> None:
        with tempfile.TemporaryDirectory(prefix="homeflow-mosquitto-") as folder:
            conf = Path(folder) / "mosquitto.conf"
            conf.write_text(mosquitto_conf(self.port), encoding="utf-8")
            try:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-c",
                    LAUNCHER,
                    str(MAX_CONNECTIONS + MOSQUITTO_OWN_FILES),
                    self.executable,
                    "-c",
                    str(conf),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                    # Its own process group: a Ctrl-C in the terminal is homeflow's to handle, and homeflow
                    # says `offline` through the broker before stopping it.
                    start_new_session=True,
                )
            except OSError as exc:
                ready.set_exception(self._cannot_start(f"{self.executable}: {exc.strerror or exc}"))
                return
            self.pid = proc.pid
            said: collections.deque[str] = collections.deque(maxlen=1)
            assert proc.stdout is not None
            relay = asyncio.create_task(_relay(proc.stdout, said), name="mosquitto log")
            try:
                if not await self._wait_listening(proc):
                    late = proc.returncode is None
                    await _end(proc)
                    await relay  # to its last line, which says why
                    why = f"did not listen within {START_WITHIN_S:g} s" if late else _exited(proc)
                    ready.set_exception(self._cannot_start(f"mosquitto {why}: {_last(said)}"))
                    return
                self._listening()
                ready.set_result(None)
                exited = asyncio.ensure_future(proc.wait())
                stop = asyncio.ensure_future(self._stop.wait())
                try:
                    await asyncio.wait((exited, stop), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    exited.cancel()
                    stop.cancel()
                if not self._stop.is_set():
                    await relay
                    why = f"{_exited(proc)} (its last line: {_last(said)})"
                    raise EmbeddedBrokerError(f"the embedded MQTT broker {why}")
            finally:
                # Also on cancellation (another task failed): the port must be free for the next start.
                await _end(proc)
                await relay
                log.debug("embedded MQTT broker stopped")

    async def _wait_listening(self, proc: asyncio.subprocess.Process) -> bool:
        deadline = asyncio.get_running_loop().time() + START_WITHIN_S
        while proc.returncode is None and asyncio.get_running_loop().time() < deadline:
            if await is_listening(self.port):
                return True
            await asyncio.sleep(0.02)
        return False


def _exited(proc: asyncio.subprocess.Process) -> str:
    code = proc.returncode or 0
    return f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"


def _last(said: collections.deque[str]) -> str:
    return said[-1].removeprefix("Error: ") if said else "no message"


async def _relay(stream: asyncio.StreamReader, said: collections.deque[str]) -> None:
    """Mosquitto's log lines into homeflow's log, at debug; read to the end so it never blocks on it."""
    pending = b""
    while chunk := await stream.read(65536):
        *lines, pending = (pending + chunk).split(b"\n")
        pending = pending[-4096:]
        for raw in lines:
            if line := raw.decode(errors="replace").strip():
                said.append(line)
                log.debug("mosquitto: %s", line)


async def _end(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM, and SIGKILL if it has not stopped within STOP_WITHIN_S."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            async with asyncio.timeout(STOP_WITHIN_S):
                await proc.wait()
        except TimeoutError:
            log.warning("the embedded MQTT broker did not stop within %g s; killing it", STOP_WITHIN_S)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    await proc.wait()


class _BoundedReader(StreamReaderAdapter):  # type: ignore[misc]  # amqtt has no type information
    """Drops the connection instead of reading a message over MAX_PACKET_BYTES into memory."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader)
        self._writer = writer
        self._refused = False

    async def read(self, n: int = -1) -> bytes:
        if n > MAX_PACKET_BYTES or self._refused:
            self._refused = True  # and every read after it: amqtt reads on after a failed one
            self._writer.transport.abort()
            raise asyncio.IncompleteReadError(b"", n)
        data: bytes = await super().read(n)
        return data


class _Broker(Broker):  # type: ignore[misc]  # amqtt has no type information
    """amqtt 0.12.1, with the limits its configuration lacks."""

    def __init__(self, config: BrokerConfig) -> None:
        super().__init__(config)
        self._connections = 0

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        # amqtt's own `max_connections` makes a connection over the limit wait, holding its socket.
        if self._connections >= MAX_CONNECTIONS:
            writer.transport.abort()
            return
        self._connections += 1
        try:
            await self._client_connected(
                listener_name, _BoundedReader(reader, writer), StreamWriterAdapter(writer)
            )
        finally:
            self._connections -= 1
            # amqtt leaves the socket of a client gone before its CONNECT was read open (CLOSE-WAIT).
            writer.close()

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> Any:
        try:
            async with asyncio.timeout(CONNECT_WITHIN_S):
                return await super()._initialize_client_session(reader, writer, remote_address, remote_port)
        except TimeoutError:
            raise AMQTTError(f"no CONNECT within {CONNECT_WITHIN_S:g} s") from None

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Any
    ) -> None:
        # amqtt 0.12.1 calls this at every connect with *every* client's topic filters, so a new client got
        # retained messages it never subscribed to (homeflow's discovery configs, say). Only a filter of
        # the session's own may deliver them.
        holders = self._subscriptions.get(subscription[0], ())
        if any(held.client_id == session.client_id for held, _ in holders):
            await super()._publish_retained_messages_for_subscription(subscription, session)


class EmbeddedAmqtt(EmbeddedBroker):
    """amqtt in homeflow's own event loop: the broker where Mosquitto is not installed."""

    kind = "amqtt"

    async def run(self, ready: asyncio.Future[None]) -> None:
        # Anonymous on loopback, and without the $SYS and packet-logging plugins amqtt loads by default.
        config = BrokerConfig(
            listeners={"default": ListenerConfig(bind=f"{HOST}:{self.port}")},
            plugins={"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        )
        if not log.isEnabledFor(logging.DEBUG):
            # amqtt logs each session at INFO and a failed bind with a traceback; homeflow says it in a line.
            # Its state machine library logs every transition at INFO.
            for noisy in ("amqtt", "transitions"):
                logging.getLogger(noisy).setLevel(logging.CRITICAL)
        broker = _Broker(config)
        try:
            await broker.start()
        except BrokerError as exc:
            ready.set_exception(self._cannot_start(str(exc.__cause__ or exc)))
            return
        self._listening()
        ready.set_result(None)
        try:
            await self._stop.wait()
        finally:
            # Also on cancellation (another task failed): the port must be free for the next start.
            await broker.shutdown()
            log.debug("embedded MQTT broker stopped")


def embedded_broker(port: int) -> EmbeddedBroker:
    """Mosquitto where it is installed, else amqtt (with one warning line saying so)."""
    executable = mosquitto_binary()
    if executable is not None:
        return EmbeddedMosquitto(port, executable)
    log.warning(FALLBACK_WARNING)
    return EmbeddedAmqtt(port)


async def start_embedded_broker(port: int, tasks: asyncio.TaskGroup) -> EmbeddedBroker | None:
    """Use the broker already listening on the port, or start one owned by `tasks`; None when reused."""
    if await is_listening(port):
        log.info("using the MQTT broker already listening on %s:%d", HOST, port)
        return None
    broker = embedded_broker(port)
    await broker.start(tasks)
    return broker
