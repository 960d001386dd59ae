"""Helpers for the fault-injection tests: a password file and certificates for a Mosquitto of one's own,
a Zigbee2MQTT light that reconnects, and a read-only look into a live journal."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .mosquitto import Broker
from .tasks import cancel_and_wait
from .z2m import SimulatedLight

# Each step lasts 30 routine seconds, three wall seconds at a time scale of 10; a sentence 2 s before
# each light cue and before the end lets a test take the broker down just before them, so homeflow's
# first retry (after 1 s) comes well before the next light cue, even on a loaded machine.
FAULTY_ROUTINE = """\
name: Faulty
ambience: {brightness: 35, transition: 1, color_temperature: warm}
steps:
  - title: One
    do:
      - wait: {seconds: 28}
      - say: Next.
      - wait: {seconds: 2}
  - title: Two
    do:
      - light: {brightness: 60, transition: 1}
      - wait: {seconds: 28}
      - say: Next.
      - wait: {seconds: 2}
  - title: Three
    do:
      - light: {brightness: 20, transition: 1}
      - wait: {seconds: 28}
      - say: Last.
      - wait: {seconds: 2}
"""
WAIT_S = 20  # for anything a test waits on: generous, since the machine may be busy


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def password_file(folder: Path, credentials: Credentials) -> Path:
    path = folder / "passwords"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(path), credentials.username, credentials.password],
        check=True,
        capture_output=True,
    )
    return path


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def make_certificates(folder: Path) -> Certificates:
    """A self-signed CA and a server certificate it signed, for 127.0.0.1 and localhost."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "homeflow test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return paths


class ReconnectingLight(SimulatedLight):
    """Zigbee2MQTT across broker restarts: it connects again, resubscribes, and publishes its state
    again (as Zigbee2MQTT republishes its retained messages when the broker has lost them)."""

    def __init__(self, base_topic: str, friendly_name: str, state: dict[str, Any]) -> None:
        super().__init__(base_topic, friendly_name, state)
        self.connections = 0
        self.online = asyncio.Event()

    @contextlib.asynccontextmanager
    async def running(self, broker: Broker) -> AsyncIterator[SimulatedLight]:
        task = asyncio.create_task(self._stay_connected(broker))
        try:
            async with asyncio.timeout(WAIT_S):
                await self.online.wait()
            yield self
        finally:
            await cancel_and_wait(task)

    async def _stay_connected(self, broker: Broker) -> None:
        while True:
            try:
                async with aiomqtt.Client(broker.host, broker.port, identifier=f"sim-{self.topic}") as client:
                    await client.subscribe(f"{self.topic}/set", qos=1)
                    await client.subscribe(f"{self.topic}/get", qos=1)
                    await self._publish(client)
                    self.connections += 1
                    self.online.set()
                    await self._serve(client)
            except aiomqtt.MqttError:
                self.online.clear()
                await asyncio.sleep(0.05)


class JournalView:
    """Reads a journal another process or task is writing (WAL lets a reader in at any time)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            return []
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []  # the tables are not there yet
        finally:
            db.close()

    async def wait_for(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Until `sql` returns rows (checked every 20 ms): progress one cannot see over a dead broker."""
        async with asyncio.timeout(WAIT_S):
            while not (rows := self.query(sql, *args)):  # noqa: ASYNC110 (a file has no event)
                await asyncio.sleep(0.02)
        return rows


async def wait_until(done: Callable[[], bool], what: str) -> None:
    """Poll `done()` every 10 ms until it holds; fail with `what` after WAIT_S."""
    try:
        async with asyncio.timeout(WAIT_S):
            while not done():  # noqa: ASYNC110 (state kept by other tasks, for any condition)
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
