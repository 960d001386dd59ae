"""Many routines running at once in one `homeflow run` process, as in a practice with a room each.

Each room has its own routine (a metronome: a sentence, then half a second's rest, `--ticks` times) and a
virtual lamp; its sentences go out on `<base>/<routine>/say`, as to a network speaker (no player
process per sentence). All runs are started together, so their cues fall due at the same moments.
Measured: cue lateness as the runner saw it (the journal's `late_s`) and where a listener on the `say`
topics receives each sentence, the process's peak RSS and its CPU while the runs play.
Run: `python -m bench.scale [--rooms 10 100 1000] [--ticks 40]`. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt

from bench.common import REPO, mosquitto, percentile
from bench.service import cpu_seconds, rss_mb

BASE = "benchrooms"

ROUTINE = """\
name: Room {index}
ambience: {{brightness: 40, transition: 1}}
steps:
  - title: Tick
    do:
      - repeat:
          times: {ticks}
          do:
            - say: Tick.
            - wait: 0.5
"""


def write_home(folder: Path, port: int, rooms: int, ticks: int) -> Path:
    (folder / "routines").mkdir()
    lines = [
        f"mqtt: {{host: 127.0.0.1, port: {port}, base_topic: {BASE}, client_id: bench-rooms}}",
        "http: {port: 0}",
        "home_assistant: {discovery: false}",
        "journal: journal.db",
        "lights:",
        *(f"  lamp{i}: {{virtual: {{}}}}" for i in range(rooms)),
        "automations:",
        *(f"  - {{routine: room{i}, when: [], lights: [lamp{i}]}}" for i in range(rooms)),
    ]
    for i in range(rooms):
        (folder / "routines" / f"room{i}.yaml").write_text(ROUTINE.format(index=i, ticks=ticks))
    config = folder / "homeflow.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


async def measure(rooms: int, ticks: int) -> dict[str, Any]:
    heard: list[tuple[float, str, str]] = []  # (wall time received, run id, text)
    ended = 0
    with mosquitto() as port, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_home(folder, port, rooms, ticks)
        async with aiomqtt.Client(
            "127.0.0.1", port, identifier="bench-rooms-watch", max_queued_incoming_messages=0
        ) as client:
            await client.subscribe(f"{BASE}/#", qos=0)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "homeflow.cli", "run", "-c", str(config),
                stderr=asyncio.subprocess.DEVNULL, cwd=REPO,
            )  # fmt: skip
            peak_rss = 0.0
            try:
                async with asyncio.timeout(60):
                    async for message in client.messages:
                        if message.topic.matches(f"{BASE}/status") and message.payload == b"online":
                            break
                await asyncio.sleep(1)  # let start-up work settle
                for i in range(rooms):
                    await client.publish(f"{BASE}/room{i}/set", "force", qos=1)
                cpu, wall = cpu_seconds(proc.pid), time.perf_counter()
                async with asyncio.timeout(ticks * 2 + 60):
                    async for message in client.messages:
                        payload = message.payload if isinstance(message.payload, bytes) else b""
                        if message.topic.matches(f"{BASE}/+/say"):
                            said = json.loads(payload)
                            heard.append((time.time(), str(said["run_id"]), said["text"]))
                        elif message.topic.matches(f"{BASE}/+/event") and b'"completed"' in payload:
                            ended += 1
                            if ended == rooms:
                                break
                        if len(heard) % 500 == 0:
                            peak_rss = max(peak_rss, rss_mb(proc.pid))
                span = time.perf_counter() - wall
                cpu_used = cpu_seconds(proc.pid) - cpu
                cpu_percent = 100 * cpu_used / span
                peak_rss = max(peak_rss, rss_mb(proc.pid))
            finally:
                proc.terminate()
                await proc.wait()
        return {
            "rooms": rooms,
            "completed": ended,
            "span_s": round(span, 1),
            "cpu_percent": round(cpu_percent, 1),
            "cpu_us_per_sentence": round(1e6 * cpu_used / max(1, len(heard))),
            "peak_rss_mb": round(peak_rss, 1),
            **lateness(folder / "journal.db", heard),
        }


def lateness(journal: Path, heard: list[tuple[float, str, str]]) -> dict[str, Any]:
    """Every run's cue lateness from the journal, and each sentence's lateness at the listener: the time
    it arrived minus the wall time its run's plan gave it."""
    with sqlite3.connect(journal) as db:
        rows = db.execute(
            "SELECT run_id, kind, text, planned_at, late_s, at FROM cues WHERE idx > 0 ORDER BY run_id, idx"
        ).fetchall()
    late_ms = [abs(late) * 1000 for *_, late, _ in rows]
    base: dict[str, float] = {}
    planned: dict[str, list[float]] = {}
    for run_id, kind, text, at_plan, late, at in rows:
        start = datetime.fromisoformat(at).timestamp() - late - at_plan
        base[str(run_id)] = min(start, base.get(str(run_id), start))
        if kind == "say" and text:
            planned.setdefault(str(run_id), []).append(at_plan)
    heard_ms: list[float] = []
    seen: dict[str, int] = {}
    for at, run_id, _text in heard:
        index = seen.get(run_id, 0)
        seen[run_id] = index + 1
        if run_id in base and index < len(planned.get(run_id, [])):
            heard_ms.append((at - base[run_id] - planned[run_id][index]) * 1000)
    return {
        "cues": len(rows),
        "late_p50_ms": round(percentile(late_ms, 50), 2),
        "late_p99_ms": round(percentile(late_ms, 99), 2),
        "late_max_ms": round(max(late_ms), 2),
        "heard": len(heard_ms),
        "heard_p50_ms": round(percentile(heard_ms, 50), 2),
        "heard_p99_ms": round(percentile(heard_ms, 99), 2),
        "heard_max_ms": round(max(heard_ms), 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--ticks", type=int, default=40, help="sentences per run")
    args = parser.parse_args()
    print(json.dumps([await measure(rooms, args.ticks) for rooms in args.rooms], indent=2))


if __name__ == "__main__":
    asyncio.run(main())
