"""A real `homeflow run` process on a private Mosquitto: timing accuracy, start-up, idle cost, memory.

Run: `python -m bench.service [--idle 60]`. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt

from bench.common import REPO, mosquitto, percentile

BASE = "benchflow"

# A tick and a half-second rest, 60 times: 120 cues in about a minute, at time scale 1.
METRONOME = """\
name: Metronome
ambience: {brightness: 40, transition: 1}
steps:
  - title: Tick
    do:
      - repeat:
          times: 60
          do:
            - say: Tick.
            - wait: 0.5
"""

CONFIG = """\
mqtt: {{host: 127.0.0.1, port: {port}, base_topic: {base}, client_id: bench-service}}
http: {{port: 0}}
home_assistant: {{discovery: false}}
journal: journal.db
lights:
  lamp: {{zigbee2mqtt: Bench Lamp}}
speakers:
  room: {{local: {{player: "true"}}}}
automations:
  - routine: metronome
    when: []
    lights: [lamp]
    speakers: [room]
  - routine: back-massage
    when: []
    lights: [lamp]
    speakers: [room]
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def wait_for(client: aiomqtt.Client, topic: str, check: object, within: float) -> None:
    async with asyncio.timeout(within):
        async for message in client.messages:
            if message.topic.matches(topic):
                payload = message.payload.decode() if isinstance(message.payload, bytes) else ""
                if callable(check) and check(payload):
                    return


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle", type=float, default=60, help="seconds of idle to measure")
    args = parser.parse_args()
    results: dict[str, float] = {}
    with mosquitto() as port, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "routines").mkdir()
        (folder / "routines" / "metronome.yaml").write_text(METRONOME)
        (folder / "routines" / "back-massage.yaml").write_text(
            (REPO / "homeflow/defaults/routines/back-massage.yaml")
            .read_text()
            .replace("timeout: 30 ", "timeout: 1 ")
        )
        (folder / "homeflow.yaml").write_text(CONFIG.format(port=port, base=BASE))
        async with aiomqtt.Client("127.0.0.1", port, identifier="bench-watch") as client:
            await client.subscribe(f"{BASE}/#", qos=1)
            await client.publish("zigbee2mqtt/Bench Lamp", '{"state": "ON", "brightness": 254}', retain=True)
            # Warm the speech cache so start-up is measured, not the first espeak-ng renders.
            plan = [
                sys.executable,
                "-m",
                "homeflow.cli",
                "plan",
                "back-massage",
                "-c",
                str(folder / "homeflow.yaml"),
            ]
            await (await asyncio.create_subprocess_exec(*plan, stdout=asyncio.subprocess.DEVNULL)).wait()
            started = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "homeflow.cli", "run", "-c", str(folder / "homeflow.yaml"),
                stderr=asyncio.subprocess.DEVNULL, cwd=REPO,
            )  # fmt: skip
            try:
                await wait_for(client, f"{BASE}/status", lambda p: p == "online", 30)
                results["startup_to_online_s"] = time.perf_counter() - started
                await asyncio.sleep(2)  # let start-up work settle
                cpu, wall = cpu_seconds(proc.pid), time.perf_counter()
                await asyncio.sleep(args.idle)
                results["idle_cpu_percent"] = (
                    100 * (cpu_seconds(proc.pid) - cpu) / (time.perf_counter() - wall)
                )
                results["idle_rss_mb"] = rss_mb(proc.pid)

                await client.publish(f"{BASE}/metronome/set", "force", qos=1)
                await wait_for(client, f"{BASE}/metronome/event", lambda p: '"completed"' in p, 120)
                results["rss_after_metronome_mb"] = rss_mb(proc.pid)
            finally:
                proc.terminate()
                await proc.wait()
        results.update(lateness(folder / "journal.db"))
    print(json.dumps(results, indent=2))


def lateness(journal: Path) -> dict[str, float]:
    """How late each cue of the metronome run started, as the runner itself measured it."""
    with sqlite3.connect(journal) as db:
        rows = db.execute(
            "SELECT late_s, planned_at FROM cues WHERE idx > 0 AND run_id ="
            " (SELECT max(id) FROM runs WHERE routine = 'metronome' AND status = 'completed')"
        ).fetchall()
    late_ms = [abs(late) * 1000 for late, _ in rows]
    return {
        "cues": len(rows),
        "span_s": max(planned for _, planned in rows),
        "cue_deviation_p99_ms": percentile(late_ms, 99),
        "cue_deviation_max_ms": max(late_ms),
    }


if __name__ == "__main__":
    asyncio.run(main())
