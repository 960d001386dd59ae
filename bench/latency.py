"""Button press → first light command, through a real Mosquitto on loopback.

Measures homeflow (a real `homeflow run` process) and, as the floor, a minimal aiomqtt program that only
answers the press with the same light command; each with no other traffic and with 5,000 msg/s of
unrelated Zigbee2MQTT-like messages on the broker. Run: `python -m bench.latency [--presses 300]`.
The routine has no speaker: presses come every few milliseconds here, and the previous run's spoken
"cancelled" (a player process per sentence) would otherwise compete with the next press for the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt

from bench.common import REPO, mosquitto, percentile

NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
BUTTON = "zigbee2mqtt/Bench Button"
LIGHT = "zigbee2mqtt/Bench Lamp"
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
        await client.subscribe("zigbee2mqtt/Bench Button", qos=1)
        await client.publish("benchfloor/status", "online", retain=True)
        async for message in client.messages:
            action = json.loads(message.payload).get("action")
            if action and not message.retain:
                command = {"state": "ON", "brightness": 89, "transition": 2, "color_temp": 370}
                await client.publish("zigbee2mqtt/Bench Lamp/set", json.dumps(command), qos=1)
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


async def measure(port: int, presses: int, cancel: str | None) -> list[float]:
    """Seconds from each press to the light command it causes."""
    latencies: list[float] = []
    async with aiomqtt.Client(
        "127.0.0.1", port, identifier="bench-measure", socket_options=NODELAY
    ) as client:
        await client.subscribe(f"{LIGHT}/set", qos=1)
        if cancel:
            await client.subscribe(f"{BASE}/bench/state", qos=1)
        await client.publish(LIGHT, json.dumps({"state": "ON", "brightness": 254}), qos=1, retain=True)
        messages = client.messages
        for i in range(presses):
            action = "single" if i % 2 else "double"  # alternate: a repeat within 300 ms is one press
            start = time.perf_counter()
            await client.publish(BUTTON, json.dumps({"action": action}), qos=1)
            async for message in messages:
                if message.topic.matches(f"{LIGHT}/set"):
                    latencies.append(time.perf_counter() - start)
                    break
            if cancel:
                await client.publish(cancel, "cancel", qos=1)
                async for message in messages:  # the restore command, then the idle state
                    if (
                        message.topic.matches(f"{BASE}/bench/state")
                        and json.loads(message.payload)["state"] == "idle"
                    ):
                        break
    return latencies


async def wait_online(port: int, topic: str) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-wait") as client:
        await client.subscribe(topic, qos=1)
        async with asyncio.timeout(30):
            async for message in client.messages:
                if message.payload == b"online":
                    return


async def run_subject(kind: str, port: int, folder: Path, presses: int) -> list[float]:
    if kind == "homeflow":
        (folder / "routines").mkdir(exist_ok=True)
        (folder / "routines" / "bench.yaml").write_text(ROUTINE)
        (folder / "homeflow.yaml").write_text(CONFIG.format(port=port, base=BASE))
        args = [sys.executable, "-m", "homeflow.cli", "run", "-c", str(folder / "homeflow.yaml")]
        status, cancel = f"{BASE}/status", f"{BASE}/bench/set"
    else:
        args = [sys.executable, "-c", FLOOR, str(port)]
        status, cancel = "benchfloor/status", None
    proc = await asyncio.create_subprocess_exec(*args, stderr=asyncio.subprocess.DEVNULL, cwd=REPO)
    try:
        await wait_online(port, status)
        await measure(port, 10, cancel)  # warm-up: caches, first connections
        return await measure(port, presses, cancel)
    finally:
        proc.terminate()
        await proc.wait()


def summary(latencies: list[float]) -> dict[str, float]:
    ms = [x * 1000 for x in latencies]
    return {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "max": max(ms)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presses", type=int, default=300)
    parser.add_argument("--noise", type=int, default=5000, help="unrelated messages per second")
    args = parser.parse_args()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for rate in (0, args.noise):
        with mosquitto() as port, tempfile.TemporaryDirectory() as folder:
            noise = None
            if rate:
                noise = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", NOISE, str(port), str(rate)
                )
                await asyncio.sleep(1)
            try:
                results[f"{rate} msg/s"] = {
                    kind: summary(await run_subject(kind, port, Path(folder), args.presses))
                    for kind in ("floor", "homeflow")
                }
            finally:
                if noise:
                    noise.terminate()
                    await noise.wait()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
