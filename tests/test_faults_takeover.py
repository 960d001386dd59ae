"""Three `homeflow run` processes, one Mosquitto, one PostgreSQL, a simulated Zigbee2MQTT lamp per room,
routines going in 10 rooms; the owner of a running routine is killed with SIGKILL at random moments
and started again. Each time, another instance goes on with each of its runs within 5 s ("Continuing
with: …"); at the end every lamp is as it was before, and the journal holds one completion per run,
no run left running, no cue after its run's end, and no two runs of one routine at once.

With `on_takeover: interrupt` each of those runs is closed as interrupted and its lamp given back.

Twenty kills (five for `interrupt`), about 75 + 25 s on a 2-core machine; `pytest --takeover-kills N`
does N."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from homeflow.journal import Database

from .harness import Collector, collecting, write_settings
from .mosquitto import Broker
from .postgres import Postgres
from .z2m import SimulatedLight

KILLS = 20
INTERRUPT_KILLS = 5  # with `on_takeover: interrupt`
ROOMS = tuple(f"room{n}" for n in range(10))
PEERS = ("a", "b", "c")
TIME_SCALE = "10"
LEASE_S = 1  # the shortest lease homeflow takes: renewed every 0.2 s
TAKEOVER_WITHIN_S = 5.0
BEFORE = {"state": "ON", "brightness": 200, "color_temp": 250, "color_mode": "color_temp"}
# About 9 wall seconds at a time scale of 10, so every kill finds runs going.
ROUTINE = """\
name: Room
ambience: {brightness: 35, transition: 0}
steps:
  - title: Begin
    do:
      - say: Settle in.
      - wait: {seconds: 20}
  - title: Up and down, left side
    do:
      - light: {brightness: 60, transition: 0}
      - say: Up and down.
      - count: {to: 5, tempo: 4}
  - title: Rest
    do:
      - say: Rest.
      - wait: {seconds: 20}
  - title: Close
    do:
      - light: {brightness: 45, transition: 0}
      - say: Done.
      - wait: {seconds: 10}
"""


def settings(
    folder: Path, broker: Broker, prefix: str, database: Database, instance: str, *, on_takeover: str
) -> Path:
    lights = "".join(f"  {room}: {{zigbee2mqtt: lamp-{room}}}\n" for room in ROOMS)
    automations = "".join(f"  - {{routine: {room}, lights: [{room}]}}\n" for room in ROOMS)
    peers = ", ".join(PEERS)
    cluster = (
        f"cluster: {{instance: {instance}, peers: [{peers}], lease: {LEASE_S}, on_takeover: {on_takeover}}}\n"
    )
    config = write_settings(
        folder / instance,
        broker,
        prefix,
        f"lights:\n{lights}automations:\n{automations}{cluster}",
        dict.fromkeys(ROOMS, ROUTINE),
        cache=folder / "cache",
    )
    config.write_text(config.read_text().replace('journal: "journal.db"', f"journal: {database.url}"))
    return config


class Instance:
    """One `homeflow run` of the cluster, killed and started again by the test."""

    def __init__(self, name: str, config: Path) -> None:
        self.name = name
        self.config = config
        self.log = config.parent / "homeflow.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "homeflow.cli", "run", "-c", str(self.config),
                env={**os.environ, "HOMEFLOW_TIME_SCALE": TIME_SCALE},
                stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )  # fmt: skip

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> int | None:
        if self.proc is None or self.proc.returncode is not None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            await self.kill()
            raise


class Journal:
    """The test's own look into the shared journal."""

    def __init__(self, database: Database) -> None:
        self.db = psycopg.connect(database.url, autocommit=True)

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        try:
            return self.db.execute(sql.encode(), args).fetchall()
        except psycopg.errors.UndefinedTable:
            return []  # before the first homeflow has made the journal's tables

    def going(self) -> dict[str, tuple[int, str]]:
        """Runs going, by routine: (run id, the routine's owner)."""
        rows = self.rows(
            "SELECT r.routine, r.id, coalesce(l.owner, '') FROM runs r LEFT JOIN leases l"
            " ON l.routine = r.routine AND l.expires_at > now() WHERE r.status = 'running'"
        )
        return {routine: (run, owner) for routine, run, owner in rows}

    def live(self) -> set[str]:
        return {name for (name,) in self.rows("SELECT name FROM instances WHERE seen_until > now()")}


async def until(done: Callable[[], bool], what: str, within: float = 30) -> None:
    try:
        async with asyncio.timeout(within):
            while not done():  # noqa: ASYNC110 (the journal's state, polled)
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@contextlib.asynccontextmanager
async def lamps(broker: Broker, prefix: str) -> AsyncIterator[dict[str, SimulatedLight]]:
    found = {room: SimulatedLight(f"{prefix}/z2m", f"lamp-{room}", BEFORE) for room in ROOMS}
    async with contextlib.AsyncExitStack() as stack:
        for lamp in found.values():
            await stack.enter_async_context(lamp.running(broker))
        yield found


async def resumed(watch: Collector, base: str, runs: dict[int, str], since: int, journal: Journal) -> None:
    """Until every run of `runs` (id -> routine) is taken over: resumed by another instance, or closed
    because it had just ended."""
    async with asyncio.timeout(TAKEOVER_WITHIN_S + 5):
        while True:
            events = {
                (m.topic, m.json.get("run_id"))
                for m in watch.messages[since:]
                if m.topic.endswith("/event") and m.json["event"] == "resumed"
            }
            waiting = {run for run, room in runs.items() if (f"{base}/{room}/event", run) not in events}
            if waiting:
                done = journal.rows(
                    "SELECT id FROM runs WHERE id = ANY(%s) AND status <> 'running'", list(waiting)
                )
                waiting -= {run for (run,) in done}
            if not waiting:
                return
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("on_takeover", ["resume", "interrupt"])
async def test_the_owner_of_running_routines_killed_again_and_again_another_instance_goes_on(  # noqa: PLR0917
    tmp_path: Path,
    broker: Broker,
    prefix: str,
    postgres: Postgres,
    request: pytest.FixtureRequest,
    on_takeover: str,
) -> None:
    resume = on_takeover == "resume"
    kills = request.config.getoption("--takeover-kills") or (KILLS if resume else INTERRUPT_KILLS)
    database = postgres.database()
    base = f"{prefix}/hf"
    rng = random.Random(16)
    instances = {
        name: Instance(name, settings(tmp_path, broker, prefix, database, name, on_takeover=on_takeover))
        for name in PEERS
    }
    took: list[float] = []
    async with lamps(broker, prefix) as lamp, collecting(broker, f"{prefix}-watch", f"{base}/#") as watch:
        for instance in instances.values():
            await instance.start()
        journal = Journal(database)
        try:
            leased = lambda: len(journal.rows("SELECT 1 FROM leases")) == len(ROOMS)  # noqa: E731
            await until(
                lambda: journal.live() == set(PEERS) and leased(), "three instances, every room leased"
            )

            async def keep_going() -> None:
                """Start each room's routine again whenever it has none going (its owner acts)."""
                while True:
                    going = journal.going()
                    for room in ROOMS:
                        if room not in going:
                            await watch.client.publish(f"{base}/{room}/set", "start", qos=1)
                    await asyncio.sleep(0.5)

            starter = asyncio.create_task(keep_going())
            try:
                await until(lambda: len(journal.going()) == len(ROOMS), "a run going in every room")
                for _ in range(kills):
                    await asyncio.sleep(rng.uniform(0.2, 2.0))  # a random point of the runs
                    going = journal.going()
                    owned = sorted({owner for _, owner in going.values() if owner in journal.live()})
                    victim = instances[rng.choice(owned)]
                    since = len(watch.messages)
                    runs = {
                        run: room for room, (run, owner) in journal.going().items() if owner == victim.name
                    }
                    killed = time.monotonic()
                    await victim.kill()
                    await resumed(watch, base, runs, since, journal)
                    took.append(time.monotonic() - killed)
                    await victim.start()
                    name = victim.name
                    await until(lambda: name in journal.live(), f"{name} started again")  # noqa: B023
            finally:
                starter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starter
            # Every run goes to its end.
            await until(lambda: not journal.going(), "every run at its end")
            await asyncio.sleep(0.5)  # the last restores reach the lamps
            codes = [await instance.stop() for instance in instances.values()]
            runs = journal.rows("SELECT id, routine, status, started_at, ended_at FROM runs ORDER BY id")
            late = journal.rows(
                "SELECT c.run_id, c.idx FROM cues c JOIN runs r ON r.id = c.run_id WHERE c.at > r.ended_at"
            )
            said = [p["text"] for room in ROOMS for p in watch.payloads(f"{base}/{room}/say")]
            resumes = [
                m for m in watch.messages if m.topic.endswith("/event") and m.json["event"] == "resumed"
            ]
        finally:
            for instance in instances.values():
                await instance.kill()
            journal.db.close()

    print(
        f"\n{kills} kills, {len(runs)} runs: take-over p50 {statistics.median(took):.2f} s,"
        f" max {max(took):.2f} s (lease {LEASE_S} s, on_takeover: {on_takeover})"
    )
    assert max(took) < TAKEOVER_WITHIN_S, took
    assert codes == [0, 0, 0], [instance.log.read_text()[-2000:] for instance in instances.values()]
    for name, instance in instances.items():
        assert "Traceback" not in instance.log.read_text(), name
    # Every lamp as it was before.
    for room, light in lamp.items():
        assert {k: light.state[k] for k in BEFORE} == BEFORE, (room, light.commands[-3:])
    # One end per run: each a completion (or, closed at a take-over, interrupted); none left running;
    # no cue after its run's end.
    ends = [status for _, _, status, _, _ in runs]
    if resume:
        assert ends == ["completed"] * len(runs)
    else:
        assert set(ends) <= {"completed", "interrupted"} and ends.count("interrupted") >= kills
    assert all(ended is not None for *_, ended in runs)
    assert late == []
    # No two runs of one routine at once (two owners would have started one each).
    for room in ROOMS:
        spans = sorted((started, ended) for _, routine, _, started, ended in runs if routine == room)
        for (_, ended), (started, _) in itertools.pairwise(spans):
            assert ended <= started, room
    assert len(runs) >= len(ROOMS)
    # Each take-over said where it goes on, at a step of the routine.
    continuing = [text for text in said if text.startswith("Continuing with: ")]
    if not resume:
        assert continuing == resumes == []
        return
    assert len(continuing) == len(resumes) >= kills // 2, (len(continuing), len(resumes))
    steps = {"begin", "up and down, left side", "rest", "close"}
    assert {text.removeprefix("Continuing with: ").rstrip(".") for text in continuing} <= steps
