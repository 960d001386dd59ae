"""Ownership by lease on a real PostgreSQL: every routine gets one owner, spread across the live
instances; a dead instance's routines pass to the others once its leases run out, a stopped one's at
once; an instance never believes it owns a routine another one holds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from homeflow.clock import LoopClock
from homeflow.journal import Database, open_journal
from homeflow.leases import Leases

from .postgres import Postgres

ROUTINES = [f"room-{n}" for n in range(7)]
LEASE_S = 1.5
RENEW_S = 0.2


class Instance:
    """One instance's leases and what it was told, as the service would be."""

    def __init__(self, database: Database, name: str, busy: Callable[[str], bool] = lambda _r: False) -> None:
        self.gained: list[str] = []
        self.lost: list[str] = []
        self.leases = Leases(
            database,
            name,
            ROUTINES,
            LoopClock(),
            taking=self._taking,
            taken=self.gained.append,
            lost=self.lost.append,
            busy=busy,
            lease_s=LEASE_S,
            renew_s=RENEW_S,
        )
        self.task: asyncio.Task[None] | None = None

    async def _taking(self, routine: str) -> None:
        assert not self.leases.owns(routine)  # it acts on it only once this is done

    def start(self) -> Instance:
        self.task = asyncio.create_task(self.leases.run())
        return self

    async def _cancel(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def die(self) -> None:
        """Stop renewing without a word, as a killed process would (its connection closes)."""
        await self._cancel()
        await self.leases.close()

    async def stop(self) -> None:
        """A clean stop: every lease given back."""
        await self._cancel()
        await self.leases.release()

    def owned(self) -> set[str]:
        return {routine for routine in ROUTINES if self.leases.owns(routine)}


@contextlib.asynccontextmanager
async def watching(*instances: Instance) -> AsyncIterator[list[str]]:
    """Checks, every 10 ms while the block runs, that no routine has two owners; yields the clashes."""
    clashes: list[str] = []

    async def watch() -> None:
        while True:
            for routine in ROUTINES:
                owners = [i for i in instances if i.leases.owns(routine)]
                if len(owners) > 1:
                    clashes.append(routine)
            await asyncio.sleep(0.01)

    task = asyncio.create_task(watch())
    try:
        yield clashes
    finally:
        task.cancel()


async def until(done: Callable[[], bool], within: float) -> float:
    """Seconds until `done()` held (checked every 20 ms); fails after `within`."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with asyncio.timeout(within):
        while True:
            if done():
                return loop.time() - began
            await asyncio.sleep(0.02)


def shared(*instances: Instance) -> bool:
    """Every routine owned by exactly one instance, each holding its fair share."""
    owned = [i.owned() for i in instances]
    share = -(-len(ROUTINES) // len(instances))
    return sorted(r for o in owned for r in o) == ROUTINES and all(len(o) <= share for o in owned)


def table(postgres: Postgres, database: Database) -> dict[str, str]:
    rows = postgres.sql(database, "SELECT routine || '=' || owner FROM leases WHERE expires_at > now()")
    return dict(row.split("=") for row in rows.splitlines())


async def test_three_instances_share_the_routines_one_owner_each(postgres: Postgres) -> None:
    database = postgres.database()
    open_journal(database).close()  # the journal's migrations make the lease tables
    instances = [Instance(database, name) for name in ("a", "b", "c")]
    async with watching(*instances) as clashes:
        for instance in instances:
            instance.start()
            await asyncio.sleep(0.1)
        await until(lambda: shared(*instances), within=10)
        owners = table(postgres, database)
        for instance in instances:
            assert {r for r, owner in owners.items() if owner == instance.leases.instance} == instance.owned()
            assert sorted(instance.gained) == sorted(set(instance.gained))  # told once per routine
        for instance in instances:
            await instance.stop()
    assert clashes == []
    assert table(postgres, database) == {}  # a clean stop gives every lease back


async def test_a_dead_instances_routines_pass_to_the_others_once_its_leases_run_out(
    postgres: Postgres,
) -> None:
    database = postgres.database()
    open_journal(database).close()
    a, b = Instance(database, "a").start(), Instance(database, "b").start()
    async with watching(a, b) as clashes:
        await until(lambda: shared(a, b), within=10)
        held_by_a = a.owned()
        await a.die()
        # It stops believing before the database lets another take them.
        assert await until(lambda: not a.owned(), within=LEASE_S + 0.1) <= LEASE_S + 0.05
        taken = await until(lambda: b.owned() == set(ROUTINES), within=3 * LEASE_S)
        assert taken <= LEASE_S + 3 * RENEW_S
        assert held_by_a <= set(b.gained)
        await b.stop()
    assert clashes == []


async def test_a_stopped_instances_routines_pass_at_once_and_a_new_one_takes_its_share(
    postgres: Postgres,
) -> None:
    database = postgres.database()
    open_journal(database).close()
    running = {"room-0"}  # a run is going: its owner keeps it while it spreads the others
    a = Instance(database, "a", busy=lambda routine: routine in running).start()
    await until(lambda: a.owned() == set(ROUTINES), within=5)
    b = Instance(database, "b").start()
    async with watching(a, b) as clashes:
        await until(lambda: shared(a, b), within=10)
        assert "room-0" in a.owned()
        assert set(a.lost) == set(ROUTINES) - a.owned()  # given back, and told so
        held_by_b = b.owned()
        await b.stop()
        taken = await until(lambda: a.owned() == set(ROUTINES), within=3 * LEASE_S)
        assert taken < 3 * RENEW_S + 0.2, taken  # not waiting for the leases to run out
        assert held_by_b <= set(a.gained)
        await a.stop()
    assert clashes == []


async def test_an_instance_that_is_stopping_keeps_what_it_holds_and_takes_nothing_more(
    postgres: Postgres,
) -> None:
    database = postgres.database()
    open_journal(database).close()
    a, b = Instance(database, "a").start(), Instance(database, "b").start()
    await until(lambda: shared(a, b), within=10)
    held_by_a = a.owned()
    a.leases.hold()  # a is ending its runs before it gives everything back
    await b.stop()
    await asyncio.sleep(3 * RENEW_S)
    assert a.owned() == held_by_a  # still renewed, and nothing of b's taken
    assert set(table(postgres, database)) == held_by_a
    await a.stop()
