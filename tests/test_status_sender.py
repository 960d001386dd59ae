"""The status sender keeps many messages in flight: a broker far away (a slow link, a loaded broker)
costs its round trip once, not once per message, so a house of many rooms is heard on time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from homeflow.clock import FakeClock
from homeflow.mqtt import MqttConnection
from homeflow.settings.model import MqttSettings
from homeflow.status import Status

from .harness import collecting
from .mosquitto import Broker

ROUND_TRIP_S = 0.1  # what the link adds to every answer from the broker
SENTENCES = 40  # one after the other, these would take SENTENCES x ROUND_TRIP_S = 4 s


@contextlib.asynccontextmanager
async def slow_link(broker: Broker) -> AsyncIterator[int]:
    """A TCP proxy on loopback that hands the broker's answers on `ROUND_TRIP_S` late, in order."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        loop = asyncio.get_running_loop()
        due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                at, chunk = await due.get()
                await asyncio.sleep(max(0.0, at - loop.time()))
                writer.write(chunk)
                await writer.drain()

        delivering = asyncio.create_task(deliver())
        try:
            while chunk := await reader.read(65536):
                due.put_nowait((loop.time() + delay, chunk))
        finally:
            delivering.cancel()
            writer.close()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(broker.host, broker.port)
        await asyncio.gather(
            pipe(client_reader, broker_writer, 0.0),
            pipe(broker_reader, client_writer, ROUND_TRIP_S),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def test_sentences_go_out_without_waiting_for_each_acknowledgement(broker: Broker, prefix: str) -> None:
    base = f"{prefix}/hf"
    async with slow_link(broker) as port, collecting(broker, f"{prefix}-watch", f"{base}/+/say") as watch:
        mqtt = MqttConnection(
            MqttSettings(host="127.0.0.1", port=port, base_topic=base, client_id=f"{prefix}-hf")
        )
        status = Status(mqtt, base, FakeClock(), ["room"])
        async with asyncio.TaskGroup() as tasks:
            running = [tasks.create_task(mqtt.run()), tasks.create_task(status.run())]
            await mqtt.connected.wait()
            for n in range(SENTENCES):
                status.said("room", f"Sentence {n}.")
            # In order, and within a few round trips (one after the other: SENTENCES round trips).
            await watch.wait_until(lambda: len(watch.messages) == SENTENCES, within=10 * ROUND_TRIP_S)
            assert [m.json["text"] for m in watch.messages] == [f"Sentence {n}." for n in range(SENTENCES)]
            for task in running:
                task.cancel()
