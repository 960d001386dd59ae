"""Button press → first light command, through a real Mosquitto on loopback.

Measures homeflow (a real `homeflow run` process) and, as the floor, a minimal aiomqtt program that only
answers the press with the same light command; each with no other traffic and with 5,000 msg/s of
unrelated Zigbee2MQTT-like messages on the broker, on two brokers: Mosquitto as shipped (Nagle's
algorithm on) and with `set_tcp_nodelay true`. Both programs run side by side, each with its own button
and lamp, and the presses alternate between them, so a moment of load elsewhere on the machine falls on
both alike. Run: `python -m bench.latency [--presses 500] [--brokers stock,nodelay]`; prints JSON.

The measuring client plays Zigbee2MQTT: it sends the press and hears the light command on one
connection, at QoS 0 both ways as Zigbee2MQTT does by default. A second client, like a dashboard,
cancels each homeflow run and waits until homeflow is idle again. The routine has no speaker: presses
come every 50 ms here, and the previous run's spoken "cancelled" (a player process per sentence) would
otherwise compete with the next press for the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt

from bench.common import BROKERS, REPO, mosquitto, percentile

NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
BASE = "benchflow"

ROUTINE = """\
name: Bench
ambience: {brightness: 35, transition: 2, color_temperature: warm}
steps:
  - title: Hold
    do:
      - say: Hold still.
      - wait: 600
"""

CONFIG = """\
mqtt: {{host: 127.0.0.1, port: {port}, base_topic: {base}, client_id: bench-homeflow}}
http: {{port: 0}}
home_assistant: {{discovery: false}}
journal: journal.db
lights:
  lamp: {{zigbee2mqtt: Bench Lamp}}
buttons:
  bench:
    zigbee2mqtt: Bench Button
    gestures: {{single: start, double: start}}
automations:
  - routine: bench
    when: [{{button: bench}}]
    lights: [lamp]
"""

# The floor: everything homeflow must do at the least, and nothing more.
FLOOR = """\
import asyncio, json, socket, sys, aiomqtt
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
async def main(port):
    async with aiomqtt.Client("127.0.0.1", port, socket_options=NODELAY) as client:
        await client.subscribe("zigbee2mqtt/Floor Button", qos=1)
        await client.publish("benchfloor/status", "online", retain=True)
        async for message in client.messages:
            action = json.loads(message.payload).get("action")
            if action and not message.retain:
                command = {"state": "ON", "brightness": 89, "transition": 2, "color_temp": 370}
                await client.publish("zigbee2mqtt/Floor Lamp/set", json.dumps(command), qos=1)
asyncio.run(main(int(sys.argv[1])))
"""

NOISE = """\
import sys, time, json, paho.mqtt.client as mqtt
port, rate = int(sys.argv[1]), int(sys.argv[2])
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="noise")
client.connect("127.0.0.1", port)
client.loop_start()
payload = json.dumps({"temperature": 21.5, "humidity": 48, "battery": 97, "linkquality": 120})
sent, start = 0, time.perf_counter()
while True:
    client.publish(f"zigbee2mqtt/sensor_{sent % 200}", payload, qos=0)
    sent += 1
    ahead = sent / rate - (time.perf_counter() - start)
    if ahead > 0:
        time.sleep(ahead)
"""


@dataclass(frozen=True, slots=True)
class Subject:
    name: str
    button: str  # where its presses go
    lamp: str  # where its light commands come from
    cancel: str | None = None  # where a run is cancelled, for a program that runs routines

    def light_set(self) -> str:
        return f"zigbee2mqtt/{self.lamp}/set"


FLOOR_SUBJECT = Subject("floor", "zigbee2mqtt/Floor Button", "Floor Lamp")
HOMEFLOW = Subject("homeflow", "zigbee2mqtt/Bench Button", "Bench Lamp", f"{BASE}/bench/set")
SUBJECTS = (FLOOR_SUBJECT, HOMEFLOW)

# Quiet before each press, as in a home where presses are seconds apart: longer than a delayed TCP ACK
# (40 ms on Linux), so on a broker with Nagle's algorithm on, no press meets a message still held back.
GAP_S = 0.05


async def measure(port: int, presses: int, gap_s: float = GAP_S) -> dict[str, list[float]]:
    """Seconds from each press to the light command it causes, per subject; presses alternate."""
    latencies: dict[str, list[float]] = {s.name: [] for s in SUBJECTS}
    async with (
        aiomqtt.Client("127.0.0.1", port, identifier="bench-z2m", socket_options=NODELAY) as z2m,
        aiomqtt.Client("127.0.0.1", port, identifier="bench-dashboard", socket_options=NODELAY) as dash,
    ):
        await dash.subscribe(f"{BASE}/bench/state", qos=1)
        for subject in SUBJECTS:
            await z2m.subscribe(subject.light_set(), qos=0)
            lamp = json.dumps({"state": "ON", "brightness": 254})
            await z2m.publish(f"zigbee2mqtt/{subject.lamp}", lamp, qos=1, retain=True)
        commands, states = z2m.messages, dash.messages
        for i in range(presses):
            for subject in SUBJECTS:
                await asyncio.sleep(gap_s)
                action = "single" if i % 2 else "double"  # alternate: a repeat within 300 ms is one press
                start = time.perf_counter()
                await z2m.publish(subject.button, json.dumps({"action": action}), qos=0)
                async for message in commands:
                    if message.topic.matches(subject.light_set()):
                        latencies[subject.name].append(time.perf_counter() - start)
                        break
                if subject.cancel:
                    await dash.publish(subject.cancel, "cancel", qos=1)
                    running = False  # the retained state heard on subscribing is an older idle
                    async for message in states:
                        state = json.loads(message.payload)["state"]
                        if state != "idle":
                            running = True
                        elif running:
                            break
                    async for message in commands:  # the lamp given back
                        if message.topic.matches(subject.light_set()):
                            break
    return latencies


async def wait_online(port: int, topic: str) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-wait") as client:
        await client.subscribe(topic, qos=1)
        async with asyncio.timeout(30):
            async for message in client.messages:
                if message.payload == b"online":
                    return


@contextlib.asynccontextmanager
async def programs(port: int, folder: Path) -> AsyncIterator[None]:
    """homeflow and the floor, both online on the broker at `port`."""
    (folder / "routines").mkdir(exist_ok=True)
    (folder / "routines" / "bench.yaml").write_text(ROUTINE)
    (folder / "homeflow.yaml").write_text(CONFIG.format(port=port, base=BASE))
    homeflow = [sys.executable, "-m", "homeflow.cli", "run", "-c", str(folder / "homeflow.yaml")]
    floor = [sys.executable, "-c", FLOOR, str(port)]
    procs = [
        await asyncio.create_subprocess_exec(*args, stderr=asyncio.subprocess.DEVNULL, cwd=REPO)
        for args in (floor, homeflow)
    ]
    try:
        await wait_online(port, "benchfloor/status")
        await wait_online(port, f"{BASE}/status")
        yield
    finally:
        for proc in procs:
            proc.terminate()
            await proc.wait()


@contextlib.asynccontextmanager
async def noise(port: int, rate: int) -> AsyncIterator[None]:
    """`rate` unrelated messages per second on the broker (none for 0)."""
    if not rate:
        yield
        return
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", NOISE, str(port), str(rate))
    try:
        await asyncio.sleep(1)
        yield
    finally:
        proc.terminate()
        await proc.wait()


def summary(latencies: list[float]) -> dict[str, float]:
    ms = [x * 1000 for x in latencies]
    return {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "max": max(ms), "presses": len(ms)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presses", type=int, default=500, help="presses per program and set-up")
    parser.add_argument("--noise", type=int, default=5000, help="unrelated messages per second")
    parser.add_argument("--gap", type=float, default=GAP_S, help="seconds of quiet before each press")
    parser.add_argument("--brokers", default=",".join(BROKERS), help="stock, nodelay, or both")
    args = parser.parse_args()
    results: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for broker in args.brokers.split(","):
        results[broker] = {}
        with mosquitto(nodelay=BROKERS[broker]) as port, tempfile.TemporaryDirectory() as folder:
            async with programs(port, Path(folder)):
                await measure(port, 20)  # warm-up: caches, first connections
                for rate in (0, args.noise):
                    async with noise(port, rate):
                        latencies = await measure(port, args.presses, args.gap)
                    results[broker][f"{rate} msg/s"] = {name: summary(v) for name, v in latencies.items()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
