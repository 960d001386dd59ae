"""Anyone on the broker can send Home Assistant's `online` again and again: it costs one republish, and
a press is still answered at once."""

from __future__ import annotations

import time
from pathlib import Path

import aiomqtt

from .harness import handled_so_far
from .home import home
from .mosquitto import Broker

FLOOD = 5000
PRESS_WITHIN_S = 0.1
MEMORY_MB = 10


def rss_mb() -> float:
    """This process's resident memory (homeflow serves in it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def test_a_flood_of_home_assistant_online_costs_one_republish_and_no_press_waits(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with (
        home(tmp_path, broker, prefix, speech_cache) as h,
        aiomqtt.Client(broker.host, broker.port, identifier=f"{prefix}-ha") as ha,
    ):
        await ha.subscribe(f"{prefix}/ha/+/+/+/config", qos=0)
        await handled_so_far(broker, h.base)
        before = rss_mb()
        for _ in range(FLOOD):
            await ha.publish(f"{prefix}/ha/status", "online", qos=0)
        await handled_so_far(broker, h.base)  # every `online` has been handled

        pressed = time.time()
        await h.press("single")
        await h.light.changed.wait()
        answered = h.light.times[0] - pressed
        grown = rss_mb() - before

    assert answered < PRESS_WITHIN_S, f"the press took {answered * 1000:.0f} ms"
    assert grown < MEMORY_MB, f"memory grew by {grown:.1f} MB"
