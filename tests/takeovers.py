"""Three `homeflow run` processes sharing one PostgreSQL journal by lease, a simulated Zigbee2MQTT lamp per
room, routines going in 10 rooms; the owner of running routines is killed with SIGKILL at random moments
and started again, and each time the time until another instance goes on with each of its runs is taken.

Shared by the take-over fault test (tests/test_faults_takeover.py) and its benchmark (bench/takeover.py).
A run is gone on with when its `resumed` event arrives (`on_takeover: resume`; the taker says "Continuing
with: …" right after), when its lamp is given back (`interrupt`), or when the journal shows it closed as
completed (it had just ended; only its end was not written)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from homeflow.journal import Database

from .harness import Collector, collecting, write_settings
from .mosquitto import Broker
from .z2m import SimulatedLight

ROOMS = tuple(f"room{n}" for n in range(10))
PEERS = ("a", "b", "c")
TIME_SCALE = "10"
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
    folder: Path,
    broker: Broker,
    prefix: str,
    database: Database,
    instance: str,
    *,
    on_takeover: str,
    lease_s: float | None,
) -> Path:
    """One instance's settings; `lease_s` None leaves homeflow's default lease."""
    lights = "".join(f"  {room}: {{zigbee2mqtt: lamp-{room}}}\n" for room in ROOMS)
    automations = "".join(f"  - {{routine: {room}, lights: [{room}]}}\n" for room in ROOMS)
    peers = ", ".join(PEERS)
    lease = "" if lease_s is None else f", lease: {lease_s:g}"
    cluster = f"cluster: {{instance: {instance}, peers: [{peers}]{lease}, on_takeover: {on_takeover}}}\n"
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
    """One `homeflow run` of the cluster, killed and started again."""

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

    async def kill(self) -> float:
        """SIGKILL it (if it runs); the wall time the signal was sent."""
        sent = time.time()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
        return sent

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
    """A look into the shared journal of our own."""

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


@dataclass
class Kill:
    """One SIGKILL of the owner of running routines, and how long its runs waited for another owner."""

    victim: str
    runs: dict[int, str]  # run id -> room, the runs it owned
    waited: dict[int, float] = field(default_factory=dict)  # run id -> seconds from SIGKILL to going on

    @property
    def took(self) -> float:
        """Seconds from SIGKILL until the last of its runs was gone on with (0 without runs)."""
        return max(self.waited.values(), default=0.0)


@dataclass
class Cluster:
    instances: dict[str, Instance]
    lamps: dict[str, SimulatedLight]
    watch: Collector
    journal: Journal
    base: str
    on_takeover: str

    async def kill_again_and_again(self, kills: int, rng: random.Random, *, within: float) -> list[Kill]:
        """Kill the owner of running routines `kills` times at random points of the runs (restarting
        each room's routine whenever it has none going), each time waiting up to `within` s until every
        one of its runs is gone on with, and starting it again."""
        starter = asyncio.create_task(self._keep_going())
        try:
            await until(lambda: len(self.journal.going()) == len(ROOMS), "a run going in every room")
            return [await self._kill_one(rng, within) for _ in range(kills)]
        finally:
            starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starter

    async def _keep_going(self) -> None:
        """Start each room's routine again whenever it has none going (its owner acts)."""
        while True:
            going = self.journal.going()
            for room in ROOMS:
                if room not in going:
                    await self.watch.client.publish(f"{self.base}/{room}/set", "start", qos=1)
            await asyncio.sleep(0.5)

    async def _kill_one(self, rng: random.Random, within: float) -> Kill:
        await asyncio.sleep(rng.uniform(0.2, 2.0))  # a random point of the runs
        going = self.journal.going()
        owned = sorted({owner for _, owner in going.values() if owner in self.journal.live()})
        victim = self.instances[rng.choice(owned)]
        since = len(self.watch.messages)
        kill = Kill(
            victim.name,
            {run: room for room, (run, owner) in self.journal.going().items() if owner == victim.name},
        )
        looks = {room: len(lamp.states) for room, lamp in self.lamps.items()}
        killed = await victim.kill()
        try:
            await self._gone_on(kill, killed, since, looks, within)
        except TimeoutError:
            waiting = sorted(set(kill.runs) - set(kill.waited))
            raise AssertionError(
                f"runs {waiting} of {victim.name} not gone on with within {within} s"
            ) from None
        await victim.start()
        name = victim.name
        await until(lambda: name in self.journal.live(), f"{name} started again")
        return kill

    async def _gone_on(
        self, kill: Kill, killed: float, since: int, looks: dict[str, int], within: float
    ) -> None:
        """Until each run of `kill` is gone on with; `since` is the first message after the kill, `looks`
        each lamp's first state after it."""
        resume = self.on_takeover == "resume"
        # Closed by the taker without going on: it had just ended (or, resuming, had no step to go on at).
        closed = ["completed", "interrupted"] if resume else ["completed"]
        async with asyncio.timeout(within):
            while True:
                for index in range(since, len(self.watch.messages)):
                    message = self.watch.messages[index]
                    if message.topic.endswith("/event") and message.json["event"] == "resumed":
                        run = message.json.get("run_id")
                        if run in kill.runs and run not in kill.waited:
                            kill.waited[run] = self.watch.times[index] - killed
                since = len(self.watch.messages)
                for run, room in kill.runs.items():
                    if not resume and run not in kill.waited:
                        given_back = self._given_back(self.lamps[room], looks[room])
                        if given_back is not None:
                            kill.waited[run] = given_back - killed
                waiting = [run for run in kill.runs if run not in kill.waited]
                if waiting:
                    ended = self.journal.rows(
                        "SELECT id FROM runs WHERE id = ANY(%s) AND status = ANY(%s)", waiting, closed
                    )
                    for (run,) in ended:
                        kill.waited[run] = time.time() - killed
                if len(kill.waited) == len(kill.runs):
                    return
                await asyncio.sleep(0.02)

    @staticmethod
    def _given_back(lamp: SimulatedLight, since: int) -> float | None:
        """When the lamp was first as it was before the runs, from its state `since` on."""
        for at, state in zip(lamp.times[since:], lamp.states[since:], strict=True):
            if {key: state.get(key) for key in BEFORE} == BEFORE:
                return at
        return None

    async def finish(self) -> list[int | None]:
        """Until every run is at its end and the lamps have heard it; then stop every instance (SIGTERM)
        and give their exit codes."""
        await until(lambda: not self.journal.going(), "every run at its end")
        await asyncio.sleep(0.5)  # the last restores reach the lamps
        return [await instance.stop() for instance in self.instances.values()]


@contextlib.asynccontextmanager
async def cluster(
    folder: Path,
    broker: Broker,
    prefix: str,
    database: Database,
    *,
    on_takeover: str,
    lease_s: float | None,
) -> AsyncIterator[Cluster]:
    """The lamps, a client watching homeflow's topics, and the three instances started, each with every
    room's routine; once all are live and every room is leased. Every instance is killed at the end."""
    base = f"{prefix}/hf"
    instances = {
        name: Instance(
            name, settings(folder, broker, prefix, database, name, on_takeover=on_takeover, lease_s=lease_s)
        )
        for name in PEERS
    }
    async with contextlib.AsyncExitStack() as stack:
        lamps = {room: SimulatedLight(f"{prefix}/z2m", f"lamp-{room}", BEFORE) for room in ROOMS}
        for lamp in lamps.values():
            await stack.enter_async_context(lamp.running(broker))
        watch = await stack.enter_async_context(collecting(broker, f"{prefix}-watch", f"{base}/#"))
        for instance in instances.values():
            await instance.start()
        journal = Journal(database)
        try:

            def ready() -> bool:
                leased = len(journal.rows("SELECT 1 FROM leases")) == len(ROOMS)
                return leased and journal.live() == set(PEERS)

            await until(ready, "three instances, every room leased")
            yield Cluster(instances, lamps, watch, journal, base, on_takeover)
        finally:
            for instance in instances.values():
                await instance.kill()
            journal.db.close()
