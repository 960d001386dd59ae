"""The embedded broker: a real MQTT broker for other clients, reused when one already listens."""

from __future__ import annotations

import asyncio
import socket

import aiomqtt

from homeflow.broker import EmbeddedBroker, EmbeddedBrokerError, start_embedded_broker

from .harness import first_messages
from .mosquitto import Broker, free_port


async def test_embedded_broker_serves_clients_and_frees_its_port() -> None:
    port = free_port()
    async with asyncio.TaskGroup() as tasks:
        broker = await start_embedded_broker(port, tasks)
        assert broker is not None
        async with aiomqtt.Client("127.0.0.1", port, identifier="keeper") as keeper:
            await keeper.subscribe("lights/#", qos=1)  # another client's filter, held while the others come
            async with aiomqtt.Client("127.0.0.1", port, identifier="writer") as writer:
                await writer.publish("lights/room", b'{"brightness": 35}', qos=1, retain=True)
            # A subscriber gets the retained state; a client subscribed elsewhere gets nothing unasked.
            embedded = Broker("127.0.0.1", port)
            lights = await first_messages(embedded, "reader-m1", "lights/+")
            assert [(m.topic, m.payload) for m in lights] == [("lights/room", b'{"brightness": 35}')]
            assert await first_messages(embedded, "reader-m2", "buttons/+") == []
        await broker.close()
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # released: the next start can listen here


async def test_a_taken_port_is_one_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]  # bound, not listening: nothing to reuse, nothing can bind
        errors: list[BaseException] = []
        try:
            async with asyncio.TaskGroup() as tasks:
                await EmbeddedBroker(port).start(tasks)
        except* EmbeddedBrokerError as group:
            errors += group.exceptions
    assert len(errors) == 1
    message = str(errors[0])
    assert message.startswith(f"cannot start the embedded MQTT broker on 127.0.0.1:{port}: ")
    assert "\n" not in message


async def test_a_broker_already_listening_is_used(broker: Broker) -> None:
    async with asyncio.TaskGroup() as tasks:
        assert await start_embedded_broker(broker.port, tasks) is None
