"""Run every benchmark and write bench/RESULTS.md: `python -m bench` (about five minutes)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

from bench.common import REPO, machine

TARGETS = {
    "p99 latency vs the floor's p99": "<= 1.5x at 0 and 5,000 msg/s",
    "cue deviation": "p99 <= 5 ms, max <= 20 ms",
    "idle CPU": "<= 0.5 %",
    "RSS after a full routine": "<= 60 MB",
    "start-up to online": "<= 0.5 s",
}


def run(module: str, *args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    return dict(json.loads(out))


def main() -> None:
    latency = run("bench.latency", "--presses", "300")
    service = run("bench.service", "--idle", "60")
    lines = [
        "# homeflow benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        "Reproduce with `python -m bench` (all, about five minutes), or `python -m bench.latency` and",
        "`python -m bench.service` alone. Each uses its own Mosquitto on a free loopback port.",
        "",
        "## Button press → first light command (ms), through Mosquitto on loopback",
        "",
        "| unrelated traffic | program | p50 | p99 | max | p99 / floor p99 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for traffic, programs in latency.items():
        assert isinstance(programs, dict)
        floor = programs["floor"]["p99"]
        for name, numbers in programs.items():
            ratio = numbers["p99"] / floor
            lines.append(
                f"| {traffic} | {name} | {numbers['p50']:.2f} | {numbers['p99']:.2f} | {numbers['max']:.2f} "
                f"| {ratio:.2f}x |"
            )
    lines += [
        "",
        "The floor is a minimal aiomqtt program that answers the press with the same light command.",
        "",
        "## The service",
        "",
        "| measure | value |",
        "| --- | --- |",
        "| start-up to `<base>/status` = `online`, process start included "
        f"| {service['startup_to_online_s']:.2f} s |",
        f"| idle CPU over 60 s | {service['idle_cpu_percent']:.2f} % |",
        f"| idle RSS | {service['idle_rss_mb']:.1f} MB |",
        f"| RSS after a full routine | {service['rss_after_metronome_mb']:.1f} MB |",
        f"| cue deviation from plan, p99 / max ({service['cues']} cues over {service['span_s']:.0f} s) "
        f"| {service['cue_deviation_p99_ms']:.2f} / {service['cue_deviation_max_ms']:.2f} ms |",
        "",
        "## Targets",
        "",
        *(f"- {what}: {target}" for what, target in TARGETS.items()),
        "",
        "## Where homeflow's extra time goes",
        "",
        "A py-spy profile of homeflow during the latency run (2,000 samples/s) puts most of its own time",
        "in paho's socket writes and the event loop. Between the press and the light command homeflow also",
        "parses and routes the press, reads the repetition level from the journal, and commits the run with",
        "the lights' snapshot to SQLite before the first change, so that a crash can still give the lights",
        "back: that commit (WAL, about 0.1 ms) is deliberate. Speech is prepared after the lights are set,",
        "never before. A run's spoken announcements start a player process per sentence; fork and exec",
        "compete with the next press for the two cores, which is why the latency routine has no speaker.",
        "",
    ]
    (REPO / "bench" / "RESULTS.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
