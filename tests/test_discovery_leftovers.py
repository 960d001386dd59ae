"""Thousands of leftover discovery configs on the broker are cleared in the background: the first press
after start dims the light at once, and every leftover is gone soon after."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import aiomqtt

from homeflow.homeassistant.discovery import node_id

from .harness import retained
from .home import home
from .mosquitto import Broker, Mosquitto

LEFTOVERS = 5000
# Mosquitto sends a subscriber at most 1,000 queued messages by default and drops the rest: unlimited
# here, so homeflow (and the test) see every leftover at once.
UNLIMITED_QUEUE = "max_queued_messages 0\n"
PRESS_WITHIN_S = 0.5
CLEARED_WITHIN_S = 60.0


async def leave_configs(broker: Broker, prefix: str) -> list[str]:
    """Retained configs under homeflow's node that no settings define, as an older homeflow left them."""
    node = node_id(f"{prefix}/hf")
    topics = [f"{prefix}/ha/button/{node}/gone_{index}/config" for index in range(LEFTOVERS)]
    async with aiomqtt.Client(broker.host, broker.port, max_inflight_messages=100) as client:
        for start in range(0, LEFTOVERS, 100):
            batch = topics[start : start + 100]
            await asyncio.gather(*(client.publish(t, '{"name": "gone"}', qos=1, retain=True) for t in batch))
    return topics


async def test_leftover_configs_never_hold_up_the_first_press(
    tmp_path: Path, mosquitto: Callable[..., Mosquitto], prefix: str, speech_cache: Path
) -> None:
    broker = mosquitto(UNLIMITED_QUEUE).broker
    topics = await leave_configs(broker, prefix)
    leftovers = f"{prefix}/ha/+/{node_id(f'{prefix}/hf')}/+/config"
    assert len(await retained(broker, f"{prefix}-before", leftovers)) >= LEFTOVERS
    async with home(tmp_path, broker, prefix, speech_cache) as h:
        pressed = time.time()
        await h.press("single")
        await h.light.changed.wait()
        answered = h.light.times[0] - pressed

        deadline = time.monotonic() + CLEARED_WITHIN_S
        while left := set(topics) & set(await retained(broker, f"{prefix}-after", leftovers)):
            assert time.monotonic() < deadline, f"{len(left)} leftover configs still there"
            await asyncio.sleep(0.5)
    assert answered < PRESS_WITHIN_S, f"the press took {answered * 1000:.0f} ms"
