"""Many routines running at once in one `homeflow run` process, as in a practice with a room each.

Each room has its own routine (a metronome: a sentence, then half a second's rest, `--ticks` times) and a
virtual lamp; its sentences go out on `<base>/<routine>/say`, as to a network speaker (no player
process per sentence). All runs are started together, so their cues fall due at the same moments.
Measured: cue lateness as the runner saw it (the journal's `late_s`) and where a listener on the `say`
topics receives each sentence, the process's peak RSS and its CPU while the runs play.
With `--processes 3`, three homeflow share the rooms through a PostgreSQL journal (a throwaway
cluster, as the tests start it) and its leases, each process with a third of the routines.
With `--speakers stream` each room also has a local speaker (espeak-ng's clip of each sentence fed to
one long-lived player process per speaker, a `cat` into /dev/null here, as there is no sound device);
with `--speakers file` a player process per sentence (`true`, given the clip's file), as before.
Run: `python -m bench.scale [--rooms 10 100 1000] [--ticks 40] [--processes 1 3] [--speakers mqtt ...]`.
Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import psycopg

from bench.common import REPO, mosquitto, percentile
from bench.service import cpu_seconds, rss_mb
from tests.postgres import Postgres

BASE = "benchrooms"
# A cue row: run id, kind, text, planned offset, lateness, when it was carried out.
Row = tuple[Any, str, str | None, float, float, datetime]
CUES = "SELECT run_id, kind, text, planned_at, late_s, at FROM cues WHERE idx > 0"
LEASES = "SELECT owner, count(*) FROM leases WHERE expires_at > now() GROUP BY owner"

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


# A room's local speaker, by `--speakers`: none (the sentences only on MQTT), streamed, or a file each.
SPEAKERS = {
    "mqtt": None,
    "stream": "{local: {stream_player: [sh, -c, cat >/dev/null]}}",
    "file": '{local: {player: ["true"]}}',
}


def write_home(
    folder: Path, port: int, rooms: int, ticks: int, *, journal: str, instances: int, speakers: str = "mqtt"
) -> list[Path]:
    """One settings file per process, the same but for the instance's name."""
    (folder / "routines").mkdir()
    for i in range(rooms):
        (folder / "routines" / f"room{i}.yaml").write_text(ROUTINE.format(index=i, ticks=ticks))
    lines = [
        f"mqtt: {{host: 127.0.0.1, port: {port}, base_topic: {BASE}, client_id: bench-rooms}}",
        "http: {port: 0}",
        "home_assistant: {discovery: false}",
        f"journal: {journal}",
        "lights:",
        *(f"  lamp{i}: {{virtual: {{}}}}" for i in range(rooms)),
        "automations:",
        *(
            f"  - {{routine: room{i}, when: [], lights: [lamp{i}]{speaker_of(speakers, i)}}}"
            for i in range(rooms)
        ),
    ]
    if (speaker := SPEAKERS[speakers]) is not None:
        lines += ["speakers:", *(f"  speaker{i}: {speaker}" for i in range(rooms))]
    if instances == 1:
        config = folder / "homeflow.yaml"
        config.write_text("\n".join(lines) + "\n")
        return [config]
    names = [f"i{n}" for n in range(instances)]
    configs = []
    for name in names:
        config = folder / f"homeflow-{name}.yaml"
        cluster = f"cluster: {{instance: {name}, peers: [{', '.join(names)}]}}"
        config.write_text("\n".join([*lines, cluster]) + "\n")
        configs.append(config)
    return configs


def speaker_of(speakers: str, room: int) -> str:
    return "" if SPEAKERS[speakers] is None else f", speakers: [speaker{room}]"


def status_topic(instances: int, n: int) -> str:
    return f"{BASE}/status" if instances == 1 else f"{BASE}/instances/i{n}/status"


@contextlib.contextmanager
def journal_for(folder: Path, instances: int) -> Iterator[tuple[str, Callable[[], list[Row]]]]:
    """SQLite for one process; a throwaway PostgreSQL cluster that several share. Yields the journal
    setting and a function that reads every cue row."""
    if instances == 1:
        path = folder / "journal.db"

        def sqlite_rows() -> list[Row]:
            with sqlite3.connect(path) as db:
                rows = db.execute(f"{CUES} ORDER BY run_id, idx").fetchall()
            return [(run_id, k, t, p, late, datetime.fromisoformat(at)) for run_id, k, t, p, late, at in rows]

        yield str(path), sqlite_rows
        return
    server = Postgres()
    server.start()
    try:
        url = server.database().url

        def postgres_rows() -> list[Row]:
            with psycopg.connect(url) as db:
                rows: list[Row] = db.execute(f"{CUES} ORDER BY run_id, idx").fetchall()
                return rows

        yield url, postgres_rows
    finally:
        server.stop()


async def spread(url: str, rooms: int, instances: int) -> None:
    """Until every instance holds its share of the routines' leases."""
    async with asyncio.timeout(120):
        while True:
            with psycopg.connect(url) as db:
                held: dict[str, int] = dict(db.execute(LEASES).fetchall())
            # Each instance takes at most its fair share, so all held by all means spread (4, 4, 2 of 10).
            if sum(held.values()) == rooms and len(held) == instances:
                return
            await asyncio.sleep(0.5)


async def measure(rooms: int, ticks: int, instances: int = 1, speakers: str = "mqtt") -> dict[str, Any]:
    heard: list[tuple[float, str, str]] = []  # (wall time received, run id, text)
    ended = 0
    with mosquitto() as port, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with journal_for(folder, instances) as (journal, cue_rows):
            configs = write_home(
                folder, port, rooms, ticks, journal=journal, instances=instances, speakers=speakers
            )
            async with aiomqtt.Client(
                "127.0.0.1", port, identifier="bench-rooms-watch", max_queued_incoming_messages=0
            ) as client:
                await client.subscribe(f"{BASE}/#", qos=0)
                procs = [
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "homeflow.cli",
                        "run",
                        "-c",
                        str(config),
                        stderr=asyncio.subprocess.DEVNULL,
                        cwd=REPO,
                    )
                    for config in configs
                ]
                peak_rss = [0.0] * instances
                try:
                    online = {status_topic(instances, n) for n in range(instances)}
                    async with asyncio.timeout(120):
                        async for message in client.messages:
                            if message.payload == b"online":
                                online.discard(message.topic.value)
                                if not online:
                                    break
                    if instances > 1:
                        await spread(journal, rooms, instances)
                    await asyncio.sleep(1)  # let start-up work settle
                    for i in range(rooms):
                        await client.publish(f"{BASE}/room{i}/set", "force", qos=1)
                    cpu, wall = sum(cpu_seconds(p.pid) for p in procs), time.perf_counter()
                    players = sum(children_cpu_seconds(p.pid) for p in procs)
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
                                peak_rss = [
                                    max(m, rss_mb(p.pid)) for m, p in zip(peak_rss, procs, strict=True)
                                ]
                    span = time.perf_counter() - wall
                    cpu_used = sum(cpu_seconds(p.pid) for p in procs) - cpu
                    players = sum(children_cpu_seconds(p.pid) for p in procs) - players
                    peak_rss = [max(m, rss_mb(p.pid)) for m, p in zip(peak_rss, procs, strict=True)]
                finally:
                    for proc in procs:
                        proc.terminate()
                    for proc in procs:
                        await proc.wait()
            rows = cue_rows()
        return {
            "rooms": rooms,
            "processes": instances,
            "speakers": speakers,
            "completed": ended,
            "span_s": round(span, 1),
            "cpu_percent": round(100 * cpu_used / span, 1),
            "cpu_us_per_sentence": round(1e6 * cpu_used / max(1, len(heard))),
            "players_cpu_us_per_sentence": round(1e6 * players / max(1, len(heard))),
            "peak_rss_mb": round(max(peak_rss), 1),
            **lateness(rows, heard),
        }


def children_cpu_seconds(pid: int) -> float:
    """CPU used by `pid`'s descendants: those it has reaped, and those still running (a long-lived
    player and whatever it started)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, list[str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            stats[int(stat.parent.name)] = stat.read_text().rsplit(")", 1)[1].split()
    below: dict[int, list[int]] = {}
    for child, fields in stats.items():
        below.setdefault(int(fields[1]), []).append(child)
    reaped = stats[pid][13:15] if pid in stats else ["0", "0"]
    total = int(reaped[0]) + int(reaped[1])
    todo = list(below.get(pid, []))
    while todo:
        child = todo.pop()
        total += int(stats[child][11]) + int(stats[child][12])
        todo += below.get(child, [])
    return total / tick


def lateness(rows: list[Row], heard: list[tuple[float, str, str]]) -> dict[str, Any]:
    """Every run's cue lateness from the journal, and each sentence's lateness at the listener: the time
    it arrived minus the wall time its run's plan gave it."""
    late_ms = [abs(late) * 1000 for *_, late, _ in rows]
    base: dict[str, float] = {}
    planned: dict[str, list[float]] = {}
    for run_id, kind, text, at_plan, late, at in rows:
        start = at.timestamp() - late - at_plan
        base[str(run_id)] = min(start, base.get(str(run_id), start))
        if kind == "say" and text:
            planned.setdefault(str(run_id), []).append(at_plan)
    heard_ms: list[float] = []
    seen: dict[str, int] = {}
    for received, run_id, _text in heard:
        index = seen.get(run_id, 0)
        seen[run_id] = index + 1
        if run_id in base and index < len(planned.get(run_id, [])):
            heard_ms.append((received - base[run_id] - planned[run_id][index]) * 1000)
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
    parser.add_argument(
        "--processes", type=int, nargs="+", default=[1], help="homeflow processes sharing the rooms"
    )
    parser.add_argument(
        "--speakers",
        choices=sorted(SPEAKERS),
        nargs="+",
        default=["mqtt"],
        help="each room's speaker (default: none, the sentences on MQTT only)",
    )
    args = parser.parse_args()
    results = [
        await measure(rooms, args.ticks, instances, speakers)
        for speakers in args.speakers
        for instances in args.processes
        for rooms in args.rooms
    ]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
