"""Who owns which routine when several homeflow share one PostgreSQL journal (`cluster:` in the
settings). Without a cluster no lease exists: the one homeflow owns every routine.

Two tables, made by the journal's migrations: `instances` (name, seen_until), each instance's
heartbeat, and `leases` (routine, owner, expires_at), one row per routine. Times are PostgreSQL's own
`now()`, so the clocks of the machines homeflow runs on never matter.

Every RENEW_S each instance:
1. says it is alive until now() + LEASE_S;
2. renews the leases it holds and takes free ones with one atomic upsert, which writes a row only if
   the routine is free (no row, or an expired one) or already its own: of two instances asking for one
   routine at once, exactly one gets it;
3. takes no more than its fair share, ceil(routines / live instances): holding fewer, it asks for free
   routines; holding more (an instance has joined), it gives back idle ones (never one with a run
   going), which the newcomer then takes.

An instance acts on a routine only until LEASE_S after it *sent* the statement that last renewed it,
by its own monotonic clock: that is never later than the expiry the database wrote, so no two
instances believe at once that they own a routine (as long as their clocks run at about the same
rate). A dead instance (killed, cut off, or its database gone) stops acting when its leases run out,
and the others share its routines out a moment later; a clean stop gives every lease back at once
(its runs left open for the others to go on with, if another instance is live: `others_live`).

Taking a routine is awaited in `taking` before the instance acts on it (the service goes on with a run
the last owner left going in the journal, or closes it: homeflow.takeover), then told to `taken` (it
shows the routine's state and Home Assistant's configs); losing one is told to `lost` (a run going
here stops at once and is left, lamps and end included, to the routine's next owner).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

import psycopg

from homeflow.clock import Clock
from homeflow.settings.model import Database

log = logging.getLogger(__name__)

# Read when a Leases is made, so a test can shorten them. A dead instance's runs go on elsewhere 0.8
# to 1.2 leases after it died: within 3.6 s at the default, for a renewal every 0.6 s per instance.
LEASE_S = 3.0
RENEW_S = LEASE_S / 5
CONNECT_TIMEOUT_S = 2

HEARTBEAT = (
    "INSERT INTO instances (name, seen_until) VALUES (%(me)s, now() + make_interval(secs => %(lease)s))"
    " ON CONFLICT (name) DO UPDATE SET seen_until = excluded.seen_until"
)
LIVE = "SELECT count(*) FROM instances WHERE seen_until >= now()"
OTHERS_LIVE = "SELECT count(*) FROM instances WHERE seen_until >= now() AND name <> %(me)s"
CLAIM = (
    "INSERT INTO leases (routine, owner, expires_at)"
    " SELECT routine, %(me)s, now() + make_interval(secs => %(lease)s) FROM unnest(%(routines)s::text[])"
    " AS routine ON CONFLICT (routine) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at"
    " WHERE leases.owner = excluded.owner OR leases.expires_at < now() RETURNING routine"
)
FREE = (
    "SELECT wanted.routine FROM unnest(%(routines)s::text[]) AS wanted (routine) WHERE NOT EXISTS"
    " (SELECT 1 FROM leases l WHERE l.routine = wanted.routine AND l.expires_at >= now())"
)
GIVE_BACK = "DELETE FROM leases WHERE owner = %(me)s AND routine = ANY(%(routines)s::text[])"
HELD_BY_OTHERS = (
    "SELECT routine FROM leases WHERE routine = ANY(%(routines)s::text[]) AND owner <> %(me)s"
    " AND expires_at >= now()"
)
LEAVE = ("DELETE FROM leases WHERE owner = %(me)s", "DELETE FROM instances WHERE name = %(me)s")


class Leases:
    def __init__(
        self,
        database: Database,
        instance: str,
        routines: Sequence[str],
        clock: Clock,
        *,
        taking: Callable[[str], Awaitable[None]],
        taken: Callable[[str], None],
        lost: Callable[[str], None],
        busy: Callable[[str], bool],
        lease_s: float | None = None,
        renew_s: float | None = None,
    ) -> None:
        self.database = database
        self.instance = instance
        self.routines = sorted(routines)
        self.clock = clock
        self._taking, self._taken, self._lost, self._busy = taking, taken, lost, busy
        self.lease_s = LEASE_S if lease_s is None else lease_s
        self.renew_s = RENEW_S if renew_s is None else renew_s
        self._until: dict[str, float] = {}  # routine -> when this instance stops acting on it
        self._db: psycopg.AsyncConnection[Any] | None = None
        self._problem: str | None = None
        self._holding = False
        self._taking_now: str | None = None  # held in the database, being taken over: not acted on yet

    def hold(self) -> None:
        """Renew what is held, take nothing more: the service is ending (or handing over) its runs
        before `release`."""
        self._holding = True

    def owns(self, routine: str) -> bool:
        until = self._until.get(routine)
        return until is not None and self.clock.monotonic() < until

    def publishes(self, routine: str) -> bool:
        """What the instance tells the broker of: its routines, and one it is taking over (its lease is
        in hand; the run its last owner left going is being closed or resumed)."""
        return self.owns(routine) or routine == self._taking_now

    async def run(self) -> None:
        """Renew, take and give back leases every `renew_s`, until cancelled."""
        while True:
            began = self.clock.monotonic()
            held: set[str] | None = None
            try:
                async with asyncio.timeout(self.lease_s / 2):
                    held = await self._round()
                self._trouble(None)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                self._trouble(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
                await self.close()
            await self._settle(held, began)
            await self.clock.sleep(max(0.0, began + self.renew_s - self.clock.monotonic()))

    async def _round(self) -> set[str]:
        """One round in the database; the routines this instance holds after it."""
        db = await self._connection()
        me = {"me": self.instance, "lease": self.lease_s}
        await db.execute(HEARTBEAT, me)
        mine = [routine for routine in self.routines if routine in self._until]
        held = {row[0] for row in await (await db.execute(CLAIM, {**me, "routines": mine})).fetchall()}
        row = await (await db.execute(LIVE)).fetchone()
        share = math.ceil(len(self.routines) / max(1, int(row[0]) if row else 1))
        if self._holding:
            return held
        if len(held) < share:
            free = [r[0] for r in await (await db.execute(FREE, {"routines": self.routines})).fetchall()]
            wanted = self._spread(sorted(set(free) - held))[: share - len(held)]
            if wanted:
                claimed = await (await db.execute(CLAIM, {**me, "routines": wanted})).fetchall()
                held |= {r[0] for r in claimed}
        elif len(held) > share:
            idle = [routine for routine in sorted(held) if not self._busy(routine)]
            surplus = idle[: len(held) - share]
            await db.execute(GIVE_BACK, {**me, "routines": surplus})
            held -= set(surplus)
        return held

    def _spread(self, free: list[str]) -> list[str]:
        """Free routines, starting at a place of this instance's own, so that instances asking at once
        mostly ask for different ones."""
        if not free:
            return free
        start = sum(self.instance.encode()) % len(free)
        return free[start:] + free[:start]

    async def _settle(self, held: set[str] | None, began: float) -> None:
        """Act on the round: renewed leases run on, lost or expired ones are told, new ones too."""
        until = began + self.lease_s
        now = self.clock.monotonic()
        for routine in list(self._until):
            if (held is not None and routine not in held) or self._until[routine] <= now:
                del self._until[routine]
                log.info("%s: no longer owned by %s", routine, self.instance)
                self._lost(routine)
            elif held is not None:
                self._until[routine] = until
        for routine in sorted((held or set()) - set(self._until)):
            if until <= self.clock.monotonic():
                break  # too late for this round; the next one renews it
            self._taking_now = routine
            try:
                await self._taking(routine)
            except Exception:
                log.exception("%s: taking it over failed", routine)
                continue
            finally:
                self._taking_now = None
            self._until[routine] = until
            log.info("%s: owned by %s", routine, self.instance)
            self._taken(routine)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._db is None or self._db.closed or self._db.broken:
            self._db = await psycopg.AsyncConnection.connect(
                self.database.url,
                password=self.database.password,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name=f"homeflow {self.instance}",
            )
        return self._db

    def _trouble(self, problem: str | None) -> None:
        if problem == self._problem:
            return
        if problem is None:
            log.info("leases: journal %s reached again", self.database)
        else:
            log.warning(
                "leases: cannot reach journal %s (%s); routines are given up as their leases run out",
                self.database,
                problem,
            )
        self._problem = problem

    async def others_live(self) -> bool:
        """Whether another instance is live (its heartbeat within its lease, as the fair share counts
        them): one that takes this one's routines once it gives them back, and goes on with their runs.
        False if the journal cannot tell."""
        try:
            async with asyncio.timeout(self.lease_s / 2):
                db = await self._connection()
                row = await (await db.execute(OTHERS_LIVE, {"me": self.instance})).fetchone()
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.warning("leases: cannot tell whether another instance is live: %s", exc)
            return False
        return row is not None and int(row[0]) > 0

    async def release(self) -> None:
        """Give every lease back (a clean stop: the others take the routines at once), and close."""
        self._until.clear()
        try:
            async with asyncio.timeout(self.lease_s / 2):
                db = await self._connection()
                for statement in LEAVE:
                    await db.execute(statement, {"me": self.instance})
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.warning("leases: could not give them back (they run out within %g s): %s", self.lease_s, exc)
        await self.close()

    async def not_taken(self, routines: Collection[str], within: float) -> set[str]:
        """After `release`: which of `routines` no other instance has taken within `within` seconds (the
        others are stopping too, or died since they were last seen). All of them if the journal
        cannot tell."""
        waiting = set(routines)
        deadline = self.clock.monotonic() + within
        while waiting:
            try:
                async with asyncio.timeout(self.lease_s / 2):
                    db = await self._connection()
                    asked = {"me": self.instance, "routines": sorted(waiting)}
                    waiting -= {row[0] for row in await (await db.execute(HELD_BY_OTHERS, asked)).fetchall()}
            except (psycopg.Error, OSError, TimeoutError) as exc:
                log.warning("leases: cannot tell whether another instance took %s: %s", sorted(waiting), exc)
                break
            if not waiting or self.clock.monotonic() >= deadline:
                break
            await self.clock.sleep(min(self.renew_s, 0.1))
        return waiting

    async def take_back(self, routines: Collection[str]) -> set[str]:
        """Take those of `routines` that are free again (for as long as a lease), to close their runs."""
        try:
            async with asyncio.timeout(self.lease_s / 2):
                db = await self._connection()
                me = {"me": self.instance, "lease": self.lease_s, "routines": sorted(routines)}
                began = self.clock.monotonic()
                taken = {row[0] for row in await (await db.execute(CLAIM, me)).fetchall()}
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.warning("leases: cannot take %s back: %s", sorted(routines), exc)
            return set()
        for routine in taken:
            self._until[routine] = began + self.lease_s
        return taken

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                async with asyncio.timeout(1):
                    await db.close()
            except (psycopg.Error, OSError, TimeoutError):
                pass
