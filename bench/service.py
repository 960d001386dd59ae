"""A real `homeflow run` process on a private Mosquitto: timing accuracy, start-up, idle cost, memory.

Cue timing is measured twice: as the runner itself saw it (the journal's `late_s` of each cue), and where
the house sees it, when a listener on `<base>/<routine>/say` receives each sentence, against the time
the plan gave that cue. Run: `python -m bench.service [--idle 60]`. Prints JSON.
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
from datetime import datetime
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


Heard = list[tuple[float, dict[str, object]]]  # (wall time received, payload) of each `say` message


async def wait_for(client: aiomqtt.Client, topic: str, check: object, within: float, said: Heard) -> None:
    """Read messages until one on `topic` passes `check`; note when each `say` message arrived."""
    async with asyncio.timeout(within):
        async for message in client.messages:
            received = time.time()
            payload = message.payload.decode() if isinstance(message.payload, bytes) else ""
            if message.topic.matches(f"{BASE}/+/say"):
                said.append((received, json.loads(payload)))
            if message.topic.matches(topic) and callable(check) and check(payload):
                return


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle", type=float, default=60, help="seconds of idle to measure")
    args = parser.parse_args()
    results: dict[str, float] = {}
    said: Heard = []
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
                await wait_for(client, f"{BASE}/status", lambda p: p == "online", 30, said)
                results["startup_to_online_s"] = time.perf_counter() - started
                await asyncio.sleep(2)  # let start-up work settle
                cpu, wall = cpu_seconds(proc.pid), time.perf_counter()
                await asyncio.sleep(args.idle)
                results["idle_cpu_percent"] = (
                    100 * (cpu_seconds(proc.pid) - cpu) / (time.perf_counter() - wall)
                )
                results["idle_rss_mb"] = rss_mb(proc.pid)

                await client.publish(f"{BASE}/metronome/set", "force", qos=1)
                await wait_for(client, f"{BASE}/metronome/event", lambda p: '"completed"' in p, 120, said)
                results["rss_after_metronome_mb"] = rss_mb(proc.pid)
            finally:
                proc.terminate()
                await proc.wait()
        results.update(lateness(folder / "journal.db", said))
    print(json.dumps(results, indent=2))


def lateness(journal: Path, said: Heard) -> dict[str, float]:
    """How late each cue of the metronome run was: as the runner itself measured it (`late_s`), and as
    a listener heard its sentence on the say topic, against `base + planned_at`."""
    with sqlite3.connect(journal) as db:
        run_id, *_ = db.execute(
            "SELECT max(id) FROM runs WHERE routine = 'metronome' AND status = 'completed'"
        ).fetchone()
        # Cue 0 (the opening light) has a timeline of its own, before the speech was prepared.
        rows = db.execute(
            "SELECT kind, text, planned_at, late_s, at FROM cues WHERE idx > 0 AND run_id = ? ORDER BY idx",
            (run_id,),
        ).fetchall()
    late_ms = sorted(abs(late) * 1000 for *_, late, _ in rows)
    # Where the timeline put the plan's time 0 on the wall clock: each row's `at` was stamped just
    # after its `late_s` was measured, so the earliest estimate is the closest.
    base = min(datetime.fromisoformat(at).timestamp() - late - planned for *_, planned, late, at in rows)
    spoken = [(text, planned) for kind, text, planned, *_ in rows if kind in ("say", "count", "ask") and text]
    heard = [(at, payload) for at, payload in said if payload.get("run_id") == run_id]
    if [text for text, _ in spoken] != [payload["text"] for _, payload in heard]:
        raise RuntimeError(f"{len(heard)} sentences heard on the say topic, {len(spoken)} in the journal")
    heard_ms = sorted(
        (at - base - planned) * 1000 for (_, planned), (at, _) in zip(spoken, heard, strict=True)
    )
    return {
        "cues": len(rows),
        "span_s": max(planned for _, _, planned, *_ in rows),
        "cue_deviation_p50_ms": percentile(late_ms, 50),
        "cue_deviation_p99_ms": percentile(late_ms, 99),
        "cue_deviation_max_ms": late_ms[-1],
        "heard": len(heard),
        "heard_deviation_p50_ms": percentile(heard_ms, 50),
        "heard_deviation_p99_ms": percentile(heard_ms, 99),
        "heard_deviation_max_ms": heard_ms[-1],
        "heard_deviation_min_ms": heard_ms[0],
    }


if __name__ == "__main__":
    asyncio.run(main())
