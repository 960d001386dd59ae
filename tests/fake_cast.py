"""A fake Google Cast speaker at the network edge: the CASTV2 protocol pychromecast speaks, on loopback.

TLS on a free port (pychromecast accepts any certificate, as Cast devices have their own), then framed
protobuf messages: the receiver's status and volume, launching the default media receiver, and LOAD on
its media channel. Every JSON message it receives is recorded in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pychromecast.generated.cast_channel_pb2 import CastMessage

RECEIVER = "urn:x-cast:com.google.cast.receiver"
MEDIA = "urn:x-cast:com.google.cast.media"
HEARTBEAT = "urn:x-cast:com.google.cast.tp.heartbeat"
MEDIA_RECEIVER = "CC1AD845"  # Google's default media receiver
TRANSPORT = "web-7"


def certificate(folder: Path) -> ssl.SSLContext:
    """A throwaway self-signed certificate for the fake's TLS."""
    cert, key = folder / "cast.pem", folder / "cast.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=fake-cast",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@dataclass
class Received:
    namespace: str
    destination: str
    data: dict[str, Any]


@dataclass
class FakeCast:
    volume: float = 0.5
    received: list[Received] = field(default_factory=list)
    app_running: bool = False
    plays: bool = True  # False: a LOAD is never answered (the media never starts)
    port: int = 0
    _clients: set[asyncio.StreamWriter] = field(default_factory=set)

    def messages(self, namespace: str) -> list[dict[str, Any]]:
        return [r.data for r in self.received if r.namespace == namespace]

    def _receiver_status(self, request_id: int) -> dict[str, Any]:
        applications = (
            [{"appId": MEDIA_RECEIVER, "displayName": "Default Media Receiver", "sessionId": "s-1",
              "transportId": TRANSPORT, "namespaces": [{"name": MEDIA}], "statusText": ""}]
            if self.app_running else []
        )  # fmt: skip
        return {
            "type": "RECEIVER_STATUS",
            "requestId": request_id,
            "status": {"volume": {"level": self.volume, "muted": False}, "applications": applications},
        }

    def _answer(self, namespace: str, data: dict[str, Any]) -> dict[str, Any] | None:
        kind, request_id = data.get("type"), data.get("requestId", 0)
        if namespace == HEARTBEAT:
            return {"type": "PONG"} if kind == "PING" else None
        if namespace == RECEIVER:
            if kind == "SET_VOLUME" and "level" in data["volume"]:
                self.volume = data["volume"]["level"]
            elif kind == "LAUNCH":
                self.app_running = data["appId"] == MEDIA_RECEIVER
            elif kind == "STOP":
                self.app_running = False
            return self._receiver_status(request_id)
        if namespace == MEDIA:
            if kind == "LOAD":
                if not self.plays:
                    return None
                media = data["media"]
                status = [{"mediaSessionId": 1, "playerState": "PLAYING", "media": media, "volume": {}}]
                return {"type": "MEDIA_STATUS", "requestId": request_id, "status": status}
            return {"type": "MEDIA_STATUS", "requestId": request_id, "status": []}
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while True:
                (length,) = struct.unpack(">I", await reader.readexactly(4))
                message = CastMessage()
                message.ParseFromString(await reader.readexactly(length))
                data = json.loads(message.payload_utf8) if message.payload_utf8 else {}
                self.received.append(Received(message.namespace, message.destination_id, data))
                answer = self._answer(message.namespace, data)
                if answer is None:
                    continue
                reply = CastMessage()
                reply.protocol_version = CastMessage.CASTV2_1_0
                reply.source_id, reply.destination_id = message.destination_id, message.source_id
                reply.namespace = message.namespace
                reply.payload_type = CastMessage.STRING
                reply.payload_utf8 = json.dumps(answer)
                body = reply.SerializeToString()
                writer.write(struct.pack(">I", len(body)) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self._clients.discard(writer)
            writer.close()

    @contextlib.asynccontextmanager
    async def running(self, folder: Path) -> AsyncIterator[FakeCast]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=certificate(folder))
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for writer in list(self._clients):
                writer.close()
            await server.wait_closed()
