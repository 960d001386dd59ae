"""Run every benchmark and write bench/RESULTS.md: `python -m bench` (about thirty minutes)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from bench.common import REPO, machine
from homeflow.leases import LEASE_S

TARGETS = {
    "p99 latency vs the floor's p99": "<= 1.3x at 0 and 5,000 msg/s, on both brokers",
    "cue deviation (the journal's `late_s`)": "p99 <= 5 ms, max <= 20 ms",
    "idle CPU": "<= 0.5 %",
    "RSS after a full routine": "<= 60 MB",
    "start-up to online": "<= 0.5 s",
    "1,000 rooms at once in one process": "late p99 <= 10 ms, RSS <= 150 MB",
}

BROKER_NAMES = {
    "stock": "Mosquitto as shipped (Nagle on)",
    "nodelay": "Mosquitto, `set_tcp_nodelay true`",
}


def run(module: str, *args: str, kept: str | None = None) -> Any:
    """Run one benchmark; its JSON is also kept in bench/last-<kept or module>.json, so a later failure
    loses nothing measured."""
    command = [sys.executable, "-m", module, *args]
    done = subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{module} failed:\n{done.stderr}")
    (REPO / "bench" / f"last-{kept or module.rpartition('.')[2]}.json").write_text(done.stdout)
    return json.loads(done.stdout)


def scale_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| rooms at once | processes | cues | CPU (all processes) | CPU per sentence "
        "| peak RSS (largest process) | late p50 / p99 / max (journal) | heard p50 / p99 / max |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['rooms']} | {row['processes']} | {row['cues']} | {row['cpu_percent']:.0f} % "
            f"| {row['cpu_us_per_sentence']} µs | {row['peak_rss_mb']:.0f} MB | {timing_cells(row)} |"
        )
    return lines


def timing_cells(row: dict[str, Any]) -> str:
    """A run of many rooms' lateness, as the journal and as a listener saw it (two table cells)."""
    late = " / ".join(f"{row[f'late_{q}_ms']:.1f}" for q in ("p50", "p99", "max"))
    heard = " / ".join(f"{row[f'heard_{q}_ms']:.1f}" for q in ("p50", "p99", "max"))
    return f"{late} ms | {heard} ms"


def speakers_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| rooms at once | local speaker | homeflow's CPU per sentence | its players' CPU per sentence "
        "| peak RSS | late p50 / p99 / max (journal) | heard p50 / p99 / max |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['rooms']} | {PLAYERS[row['speakers']]} | {row['cpu_us_per_sentence']} µs "
            f"| {row['players_cpu_us_per_sentence']} µs | {row['peak_rss_mb']:.0f} MB | {timing_cells(row)} |"
        )
    return lines


PLAYERS = {"stream": "one player process each (`stream_player`)", "file": "a process per sentence (`player`)"}


def ratio_range(latency: dict[str, Any]) -> str:
    """The lowest and highest of homeflow's p99 over the floor's p99, over brokers and traffic."""
    ratios = [
        programs["homeflow"]["p99"] / programs["floor"]["p99"]
        for rates in latency.values()
        for programs in rates.values()
    ]
    return f"{min(ratios):.2f}–{max(ratios):.2f}x"


def latency_table(latency: dict[str, object]) -> list[str]:
    lines = [
        "| broker | unrelated traffic | program | p50 | p99 | max | p99 / floor p99 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for broker, rates in latency.items():
        assert isinstance(rates, dict)
        for traffic, programs in rates.items():
            floor = programs["floor"]["p99"]
            for name, numbers in programs.items():
                lines.append(
                    f"| {BROKER_NAMES.get(broker, broker)} | {traffic} | {name} | {numbers['p50']:.2f} "
                    f"| {numbers['p99']:.2f} | {numbers['max']:.2f} | {numbers['p99'] / floor:.2f}x |"
                )
    return lines


def takeover_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| lease | renewed every | on_takeover | kills | runs taken over | p50 | p90 | max "
        "| kills taken over within 5 s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lease = f"{row['lease_s']:g} s" + (" (default)" if row["lease_s"] == LEASE_S else "")
        lines.append(
            f"| {lease} | {row['renew_s']:g} s | `{row['on_takeover']}` | {row['kills']} | {row['runs']} "
            f"| {row['p50_s']:.2f} s | {row['p90_s']:.2f} s | {row['max_s']:.2f} s "
            f"| {row['within_5_s']} of {row['kills']} |"
        )
    return lines


def takeover_section(takeover: dict[str, Any]) -> list[str]:
    """The "Take-over" section: its own machine and date, as it may be measured apart from the rest."""
    rows = takeover["rows"]
    processes, rooms, scale = takeover["instances"], takeover["rooms"], takeover["time_scale"]
    verdicts = []
    for row in rows:
        if row["on_takeover"] != "resume":
            continue
        lease = "the default lease" if row["lease_s"] == LEASE_S else "a lease"
        held = (
            "every kill"
            if row["within_5_s"] == row["kills"]
            else f"{row['within_5_s']} of {row['kills']} kills"
        )
        verdicts.append(f"- {lease} of {row['lease_s']:g} s: {held} (max {row['max_s']:.2f} s)")
    return [
        "## Take-over: another homeflow goes on after its owner is killed",
        "",
        f"Measured {takeover['measured']} UTC on {takeover['machine']}.",
        "",
        *takeover_table(rows),
        "",
        f"{processes} `homeflow run` processes share one PostgreSQL journal (a throwaway cluster",
        f"on loopback) and {rooms} rooms, each with a routine going (at {scale:g} times its speed) and a",
        "simulated Zigbee2MQTT lamp; the owner of running routines is killed with SIGKILL at a random",
        "point of the runs, then started again. A kill's time runs from the SIGKILL until another",
        "instance has gone on with the last of the runs the killed one owned: with `on_takeover:",
        'resume`, until the run\'s `resumed` event arrives (the taker says "Continuing with: …" right',
        "after); with `interrupt`, until its lamp is given back. A run that had just ended counts when",
        "the journal shows it closed. `python -m bench.takeover` alone; the take-over fault test",
        "(tests/test_faults_takeover.py) runs the same kills with a lease of 1 s.",
        "",
        *TAKEOVER,
        "",
        "Taken over within 5 s, with `on_takeover: resume`:",
        "",
        *verdicts,
    ]


def history_section(history: dict[str, Any]) -> list[str]:
    rows = history["rows"]
    lines = [
        "## The figures at the end of a run, by the journal's length",
        "",
        "| journal | past runs | `stats` at an end of a run, median / max | the first, after an upgrade "
        "| before (every completed run of 400 days read) | next level after a late answer "
        "| before (replayed) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        each_end = f"{row['stats_ms_median']:.2f} / {row['stats_ms_max']:.2f} ms"
        lines.append(
            f"| {row['store']} | {row['runs']:,} | {each_end} "
            f"| {row['first_after_upgrade_ms']:.1f} ms | {row['before_ms_median']:.1f} ms "
            f"| {row['level_ms_median']:.2f} ms | {row['level_before_ms_median']:.1f} ms |"
        )
    return [
        *lines,
        "",
        f"Measured {history['measured']} UTC on {history['machine']}.",
        "A clinic's routine, 41 completed runs a day up to now; each of 30 more runs ends, then `stats`",
        "(last completion, streak of days, runs today) is timed, then the run is answered late and the",
        "next level is found (medians). Streak and level are kept in their own rows and brought up to",
        "date from the runs since; the first `stats` after an upgrade (at start-up) counts the streak",
        "once from every run (here a streak as long as the whole history, the worst case).",
        "",
        "| past runs (SQLite) | homeflow's CPU per press | press → light p50 / p99 |",
        "| --- | --- | --- |",
        *(
            f"| {row['runs']:,} | {row['cpu_ms_per_press']:.1f} ms "
            f"| {row['press_p50_ms']:.1f} / {row['press_p99_ms']:.1f} ms |"
            for row in history["presses"]
        ),
        "",
        "A real `homeflow run` and presses as in the first section (each run cancelled from a dashboard,",
        "so each press is followed by the end of a run and its figures), with no other traffic. Before",
        "streaks and levels were kept (a40b061), the same 100 presses with 100,000 past runs took 143.8 ms",
        "of CPU each (5.5 ms with a fresh journal), and the light came at p50 118 ms.",
        "`python -m bench.history` alone.",
    ]


def last(module: str, *_args: str, kept: str | None = None) -> Any:
    """The figures of the benchmark's last run (`python -m bench --write` rewrites RESULTS.md from them)."""
    return json.loads((REPO / "bench" / f"last-{kept or module.rpartition('.')[2]}.json").read_text())


def main() -> None:
    measure = last if "--write" in sys.argv[1:] else run
    latency = measure("bench.latency", "--presses", "500")
    service = measure("bench.service", "--idle", "60")
    scale = measure("bench.scale", "--rooms", "10", "100", "1000", "--ticks", "40", "--processes", "1", "3")
    speakers = measure("bench.scale", "--rooms", "200", "--speakers", "stream", "file", kept="speakers")
    takeover = measure("bench.takeover", "--kills", "20", "--interrupt-kills", "10", "--lease", "5", "4", "3")
    history = measure("bench.history")
    presses = next(iter(next(iter(latency.values())).values()))["floor"]["presses"]
    lines = [
        "# homeflow benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        "Reproduce with `python -m bench` (all, about thirty minutes), or `python -m bench.latency`,",
        "`python -m bench.service`, `python -m bench.scale`, `python -m bench.takeover` and",
        "`python -m bench.history` alone. Each uses",
        "its own Mosquitto on a free loopback port.",
        "",
        "## Button press → first light command (ms), through Mosquitto on loopback",
        "",
        *latency_table(latency),
        "",
        f"{presses} presses per program and row. The floor is a minimal aiomqtt program that answers the",
        "press with the same light command. homeflow and the floor run side by side, each with its own",
        "button and lamp, and the presses alternate between them, so a moment of load elsewhere on the",
        "machine falls on both alike. The measuring client plays Zigbee2MQTT: it sends the press and",
        "hears the light command on one connection, both at QoS 0 (Zigbee2MQTT's default); a second",
        "client, like a dashboard, cancels each run and waits until homeflow is idle again. Each press",
        "comes after 50 ms of quiet, as presses in a home come seconds apart: longer than a delayed TCP",
        "ACK (40 ms), so with Nagle's algorithm on no press meets a message the broker still holds back.",
        "Pressed back to back at QoS 1, a stock broker holds every light command about 40 ms behind the",
        "press's PUBACK, for the floor as for homeflow.",
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
        f"| cue deviation from plan as the runner measured it (journal `late_s`), p50 / p99 / max "
        f"({service['cues']} cues over {service['span_s']:.0f} s) "
        f"| {service['cue_deviation_p50_ms']:.2f} / {service['cue_deviation_p99_ms']:.2f} "
        f"/ {service['cue_deviation_max_ms']:.2f} ms |",
        f"| cue deviation where a listener receives `<base>/metronome/say`, p50 / p99 / max "
        f"({service['heard']} sentences) "
        f"| {service['heard_deviation_p50_ms']:.2f} / {service['heard_deviation_p99_ms']:.2f} "
        f"/ {service['heard_deviation_max_ms']:.2f} ms |",
        "",
        "A listener's deviation is the time an MQTT subscriber receives a cue's sentence minus the",
        "cue's planned time: the plan's start on the wall clock (from the journal's cue rows: `at` −",
        "`late_s` − `planned_at`) plus the cue's offset. It includes the runner's own lateness, the status",
        "sender's queue, the broker and the listener's client.",
        "",
        "## Many rooms",
        "",
        *scale_table(scale),
        "",
        *MANY_ROOMS,
        "",
        *speakers_table(speakers),
        "",
        *LOCAL_SPEAKERS,
        "",
        *takeover_section(takeover),
        "",
        *history_section(history),
        "",
        "## Targets",
        "",
        *(f"- {what}: {target}" for what, target in TARGETS.items()),
        "",
        *(line.replace("{ratios}", ratio_range(latency)) for line in WHERE_THE_TIME_GOES),
        "",
    ]
    (REPO / "bench" / "RESULTS.md").write_text("\n".join(lines))
    print("\n".join(lines))


MANY_ROOMS = [
    "Each room has its own routine (a sentence, then half a second's rest, 40 times) and a virtual",
    "lamp; its sentences go out on `<base>/<routine>/say`, as to a network speaker, so no player",
    "process is started per sentence. All runs are started together (one MQTT message each, sent",
    "back to back), so their cues fall due within the same fraction of a second: the hardest case for",
    "lateness. `late` is the journal's `late_s` of every cue; `heard` is when a listener on the `say`",
    "topics received each sentence against its planned time; CPU is the process's share of one core",
    "while the runs play. With 3 processes the rooms are shared through a PostgreSQL journal and its",
    "leases (a throwaway cluster on loopback), each process owning a third of the routines.",
    "",
    "How cost grows: from 10 to 1,000 rooms the CPU per sentence falls (a moment's cues share a",
    "journal transaction and the MQTT client's socket writes), RSS grows by about 35 kB a room, and",
    "the median cue stays under a millisecond late. The p99 at 1,000 rooms is the start: a thousand",
    "runs starting in the same second while the first of them already play; after it, each second's",
    "p99 is 2 to 4 ms. The max is the garbage collector's full pass, once or twice a run, over every",
    "live run's plan.",
    "",
    "What dominated (py-spy and the garbage collector's own callbacks, 1,000 rooms): a run waiting",
    "for its next cue held two tasks, three futures and seven coroutines (a sleep task and a waker",
    "task raced in `asyncio.wait`), some 35 objects a room, made anew at every cue. With a thousand",
    "rooms they filled the collector's youngest generation with 20,000 to 35,000 live objects, and its",
    "passes took 5 to 40 ms each while every cue due waited: p99 18 to 21 ms, max about 160 ms. A",
    "waiting run now holds one future and one timer on the loop, which a command resolves: p99 4.5 to",
    "5.7 ms over several runs, CPU per sentence 0.77 to 0.63 ms, and a listener's p99 from 67–158 ms",
    "to 11–17 ms. `homeflow run` also freezes what start-up built (settings, routines, rooms, about",
    "75,000 objects with 1,000 rooms) out of the collector's passes once it is ready.",
    "",
    "What is left per sentence (profile after the fix): paho writing each MQTT message with a send",
    "call of its own, about a quarter; the rest of the publish path (aiomqtt futures, paho's",
    "acknowledgements), about a fifth; the journal's cue records, about 15 %. Three processes on two",
    "cores do not go faster: each pays for its own connections, and the cue records go to PostgreSQL",
    "instead of a local file. Their listener's tail (seconds at 1,000 rooms) was not examined: the",
    "machine was saturated (85 % of the two cores, with the broker, PostgreSQL and the listener, a",
    "Python process too, on the same cores), so it includes the listener's own backlog.",
]


LOCAL_SPEAKERS = [
    "With a local speaker in every room, each sentence is also played on the host: espeak-ng's clip",
    "written to the room's player. As the bench's machine has no sound device, the player is a `cat`",
    "into /dev/null (fed raw PCM on its stdin, one process per speaker for the whole run) or `true`",
    "(given the clip's file, a process per sentence, as every local speaker did before). The players'",
    "CPU is that of homeflow's child processes, counted apart from homeflow's own.",
    "",
    "A player per speaker instead of a process per sentence saves about 1.5 ms of CPU a sentence in",
    "all: 0.4 ms in homeflow (starting and reaping a process) and about 1.1 ms in the processes",
    "themselves (fork and exec). On Python 3.11 asyncio also waited for each child in a thread of its",
    "own, so 200 long-lived players meant 200 waiting threads; `homeflow run` waits through pidfds on",
    "the event loop instead (as Python 3.12 does by itself): 2 threads in all. Left: the streaming",
    "process is about 10 MB larger at its peak (not examined), and a sentence on a local speaker",
    "costs homeflow 1.6 ms against 0.6 to 1.5 ms on MQTT alone (a task and a time limit per sentence,",
    "the clip read from the cache, the write to the pipe), not profiled further.",
]


TAKEOVER = [
    "A dead instance's leases run out a lease after their last renewal, so between 4/5 of a lease and",
    "a whole lease after the kill; the others look for free routines at each renewal, a fifth of a",
    "lease apart, and take what their fair share allows. A take-over therefore comes 0.8 to 1.2",
    "leases after the kill, plus the taker's own work (reading the run from the journal, the ambience",
    "back on the lamp). A lease of 5 s is within 5 s only when the kill came long enough after the dead",
    "instance's last renewal: about half the kills. With `lease: 4` the latest is 4.8 s plus that",
    "work, within 5 s here; 3 s, the default, leaves a margin, for a renewal round every 0.6 s per",
    "instance. A row with a lease set in the settings and one without it at the same length run the",
    "same code (renewed every lease / 5).",
]


WHERE_THE_TIME_GOES = [
    "## Where homeflow's extra time goes",
    "",
    "A trace of the press path (a timestamp at each step, 300 presses 50 ms apart, so the path runs",
    "cold as it does in a home) took a median of 1.91 ms from paho reading the press to the light",
    "command's socket write (times include the tracing; the machine was shared). On the way homeflow",
    "parses and routes the press, logs it and the start (two INFO lines), builds the run, and commits",
    "the run with the lamp's snapshot to SQLite before the first change, so that a crash can still give",
    "the lamp back: that commit (WAL, about 0.15–0.25 ms when cold) is deliberate. Two task hops",
    "follow: into the run's task, and into its light session's task.",
    "",
    "This run's p99 ratios ({ratios}) are above the 1.43–1.84x of the earlier results, which were",
    "measured with the press-path changes below. The ratio moves a lot between runs: the code of the",
    "morning of 2026-11-30 gave 1.12x and 2.09x in two runs of 120 and 200 presses (nodelay, no",
    "traffic). The target of 1.3x is not met.",
    "",
    "Tried and not kept: writing each publish to the socket at once instead of on aiomqtt's next loop",
    "turn (-0.44 ms at the median, but only by overriding a private aiomqtt method and reading paho's",
    "private callback lock, which an upgrade of either may break), handling a single light in place",
    "instead of in a task per light (-0.17 ms), and yielding to the light session right after the",
    "opening change (-0.13 ms). Together they took the median from 1.91 to 1.16 ms, but the p99 ratios",
    "stayed within the run-to-run spread (1.43–1.84x with them, 1.44–1.83x without).",
    "",
    "The tail is another matter. In a trace of the slowest 5 % of presses (nodelay, no traffic), 1.3 ms",
    "of 4.0 ms passed after homeflow had written the command, against 0.4 ms at the median: the broker",
    "and the receiving client wait for a core while homeflow goes on with the run (status messages,",
    "journal, the plan's preparation), whereas the floor is idle once its command is out.",
    "",
    "Cue deviation: the runner sleeps on the event loop's timer, and epoll's timeout is whole",
    "milliseconds, rounded up, so a cue starts up to a millisecond after its time before any load. A",
    "listener also waits for the status sender, the broker and its own client.",
]


if __name__ == "__main__":
    main()
