"""Two clients with one MQTT client id knock each other off the broker: homeflow says so, in one line
naming `mqtt.client_id`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from homeflow.mqtt import MqttConnection
from homeflow.settings.model import MqttSettings

from .mosquitto import Broker


async def test_a_second_client_with_the_same_id_is_named_in_one_line(
    broker: Broker, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="homeflow")
    settings = MqttSettings(
        host=broker.host, port=broker.port, base_topic=f"{prefix}/hf", client_id=f"{prefix}-twin"
    )
    twins = [asyncio.create_task(MqttConnection(settings).run()) for _ in range(2)]
    try:
        async with asyncio.timeout(20):
            while not [r for r in caplog.records if "same mqtt.client_id" in r.getMessage()]:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        for twin in twins:
            twin.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await twin
    [hint] = [r.getMessage() for r in caplog.records if "same mqtt.client_id" in r.getMessage()]
    assert f"mqtt.client_id '{prefix}-twin'" in hint
