"""A clean stop of a cluster's instance (SIGTERM or SIGINT: an upgrade, a reboot) hands its running
routines over: the run is left open in the journal at its position, the lamp as the run has it, and
the other instance goes on with it at once ("Continuing with: …"), paused if it was; one run, one
completion. Alone, or with `on_takeover: interrupt`, the stop ends the run as interrupted and gives
the lamp back, as ever. One Mosquitto, one PostgreSQL, a simulated Zigbee2MQTT lamp; two `homeflow run`
processes for SIGTERM itself, two instances served in one process (`stop` is the event the signals
set) for the rest."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from homeflow.journal import Database, RunStatus, open_journal

from .harness import Collector, Message, collecting, write_settings
from .mosquitto import Broker
from .postgres import Postgres
from .takeovers import Instance as Process
from .test_cluster import BEFORE, DIMMED, LONG_ROUTINE, STEP, Instance, said_in, until_owned
from .z2m import SimulatedLight

# The second step begins after 10 routine seconds and lasts 30 (0.5 s and 1.5 s served at a time scale
# of 20, 1 s and 3 s in a process at 10).
ROUTINE = LONG_ROUTINE.format(step_s=30)
CONTINUING = "Continuing with: up and down, left side."
WITHIN_S = 2.0  # from the stopped instance's exit to the other's "Continuing with"
LIVE = "SELECT name FROM instances WHERE seen_until > now()"


@pytest.fixture(autouse=True)
def short_leases(monkeypatch: pytest.MonkeyPatch) -> None:
    from homeflow import leases  # noqa: PLC0415

    monkeypatch.setattr(leases, "LEASE_S", 2.0)
    monkeypatch.setattr(leases, "RENEW_S", 0.25)


def settings_of(  # noqa: PLR0917
    folder: Path,
    broker: Broker,
    prefix: str,
    database: Database,
    instance: str,
    on_takeover: str = "resume",
    lease: str = "",
) -> Path:
    body = (
        "lights:\n  one: {zigbee2mqtt: lamp-one}\nautomations:\n  - {routine: one, lights: [one]}\n"
        f"cluster: {{instance: {instance}, peers: [a, b], on_takeover: {on_takeover}{lease}}}\n"
    )
    config = write_settings(folder / instance, broker, prefix, body, {"one": ROUTINE}, cache=folder / "cache")
    config.write_text(config.read_text().replace('journal: "journal.db"', f"journal: {database.url}"))
    return config


async def live(postgres: Postgres, database: Database, name: str) -> None:
    """Until `name` has said in the journal that it is alive."""
    async with asyncio.timeout(10):
        while name not in postgres.sql(database, LIVE):  # noqa: ASYNC110 (the journal, polled)
            await asyncio.sleep(0.05)


def waiter(watch: Collector, base: str, since: int) -> Callable[[str, str, str], Awaitable[Message]]:
    """Waits for the routine's message on `topic` whose `key` is `value`, from `since` on."""
    return lambda topic, key, value: watch.wait_for(
        f"{base}/one/{topic}", lambda m: m.json[key] == value, since=since
    )


def ended(  # noqa: PLR0917
    database: Database,
    watch: Collector,
    base: str,
    lamp: SimulatedLight,
    since: tuple[int, int],
    handed_over: list[str],
    *,
    handed: bool,
    paused: bool = False,
) -> None:
    """What the journal, the events and the lamp show once the run has ended: one run, one end, the
    lamp given back once, by whoever ended it. `since`: the watcher's messages and the lamp's commands
    before the stop."""
    with open_journal(database) as journal:
        [run] = journal.runs("one")
    events = [p["event"] for p in watch.payloads(f"{base}/one/event")]
    restores = [c for c in lamp.commands if c.get("brightness") == BEFORE["brightness"]]
    assert {k: lamp.state[k] for k in BEFORE} == BEFORE
    assert len(restores) == 1, lamp.commands
    left = lamp.commands[since[1] :]
    if handed:
        # The routine's state from the next owner only: the stopped one did not say it was idle.
        states = [p["state"] for p in watch.payloads(f"{base}/one/state", since=since[0])]
        assert "idle" not in states[:-1] and states[-1] == "idle", states
        assert run.status is RunStatus.COMPLETED
        assert events == ["started", "resumed", "completed"]  # no interruption from the stopped one
        assert handed_over == [f"one: run {run.id} handed over at step 2" + (" (paused)" if paused else "")]
        # The stopped instance left the lamp as the run had it; the next one set the step's look.
        assert [c.get("brightness") for c in left][:2] == [DIMMED, STEP], left
    else:
        assert run.status is RunStatus.INTERRUPTED
        assert events == ["started", "interrupted"]
        assert handed_over == []
        assert left == restores


async def test_sigterm_hands_a_running_routine_over_to_the_other_instance(
    tmp_path: Path, broker: Broker, prefix: str, postgres: Postgres
) -> None:
    database = postgres.database()
    base = f"{prefix}/hf"
    lamp = SimulatedLight(f"{prefix}/z2m", "lamp-one", BEFORE)
    a, b = (Process(n, settings_of(tmp_path, broker, prefix, database, n, lease=", lease: 1")) for n in "ab")
    async with lamp.running(broker), collecting(broker, f"{prefix}-watch", f"{base}/#") as watch:
        try:
            await a.start()
            await watch.wait_for(f"{base}/instances/a/status", lambda m: m.text == "online", within=20)
            await until_owned(postgres, database, lambda o: o.get("one") == "a", 20)
            await b.start()
            await live(postgres, database, "b")
            await watch.client.publish(f"{base}/one/set", "start", qos=1)
            await said_in(lamp, STEP, 10)  # the second step has begun
            since, stopping = len(watch.messages), len(lamp.commands)
            heard = waiter(watch, base, since)
            code = await a.stop()  # SIGTERM
            exited = time.monotonic()
            await heard("say", "text", CONTINUING)
            took = time.monotonic() - exited
            print(f"\ntaken over {took:.2f} s after the stopped instance's exit")
            await heard("event", "event", "completed")
            await said_in(lamp, BEFORE["brightness"], 10)
        finally:
            await a.kill()
            await b.stop()
    assert code == 0
    assert took < WITHIN_S, took
    handed_over = [line.partition("homeflow.conductor: ")[2] for line in a.log.read_text().splitlines()]
    ended(
        database,
        watch,
        base,
        lamp,
        (since, stopping),
        [h for h in handed_over if "handed over" in h],
        handed=True,
    )


@pytest.mark.parametrize(
    ("peer", "on_takeover", "paused"),
    [(True, "resume", True), (False, "resume", False), (True, "interrupt", False)],
    ids=["handed-over-paused", "alone", "interrupt"],
)
async def test_a_clean_stop_hands_over_paused_and_alone_or_by_setting_interrupts(  # noqa: PLR0917
    tmp_path: Path,
    broker: Broker,
    prefix: str,
    postgres: Postgres,
    caplog: pytest.LogCaptureFixture,
    peer: bool,
    on_takeover: str,
    paused: bool,
) -> None:
    database = postgres.database()
    base = f"{prefix}/hf"
    handed = peer and on_takeover == "resume"
    lamp = SimulatedLight(f"{prefix}/z2m", "lamp-one", BEFORE)
    caplog.set_level(logging.INFO, logger="homeflow.conductor")
    async with lamp.running(broker), collecting(broker, f"{prefix}-watch", f"{base}/#") as watch:
        a = Instance(settings_of(tmp_path, broker, prefix, database, "a", on_takeover))
        b: Instance | None = None
        try:
            await a.url()
            await until_owned(postgres, database, lambda o: o.get("one") == "a", 10)
            if peer:
                b = Instance(settings_of(tmp_path, broker, prefix, database, "b", on_takeover))
                await b.url()
                await live(postgres, database, "b")
            await watch.client.publish(f"{base}/one/set", "start", qos=1)
            await said_in(lamp, STEP, 10)  # the second step has begun
            if paused:
                await watch.client.publish(f"{base}/one/set", "pause", qos=1)
                await watch.wait_for(f"{base}/one/state", lambda m: m.json["state"] == "paused")
            since, stopping = len(watch.messages), len(lamp.commands)
            heard = waiter(watch, base, since)
            await a.end()
            exited = time.monotonic()
            if handed:  # taken over paused, it stays paused and silent until the person goes on
                await heard("event", "event", "resumed")
                assert time.monotonic() - exited < WITHIN_S
                await heard("state", "state", "paused")
                assert watch.payloads(f"{base}/one/say", since=since) == []
                await watch.client.publish(f"{base}/one/set", "resume", qos=1)
                await heard("say", "text", CONTINUING)
                await heard("event", "event", "completed")
                await said_in(lamp, BEFORE["brightness"], 10)
        finally:
            for instance in (a, b):
                if instance is not None and not instance.task.done():
                    await instance.end()
    handed_over = [r.getMessage() for r in caplog.records if "handed over" in r.getMessage()]
    ended(database, watch, base, lamp, (since, stopping), handed_over, handed=handed, paused=paused)


async def test_instances_stopped_together_leave_no_room_dim(
    tmp_path: Path, broker: Broker, prefix: str, postgres: Postgres, caplog: pytest.LogCaptureFixture
) -> None:
    """Both instances stop at once (`docker compose down`): the one with the run hands it over to the
    other, which is stopping too and takes nothing; so the run ends where it was, as interrupted, and
    its lamp is given back, rather than left dim for whichever instance starts next."""
    database = postgres.database()
    base = f"{prefix}/hf"
    lamp = SimulatedLight(f"{prefix}/z2m", "lamp-one", BEFORE)
    caplog.set_level(logging.INFO, logger="homeflow")
    async with lamp.running(broker), collecting(broker, f"{prefix}-watch", f"{base}/#") as watch:
        a = Instance(settings_of(tmp_path, broker, prefix, database, "a"))
        b: Instance | None = None
        try:
            await a.url()
            await until_owned(postgres, database, lambda o: o.get("one") == "a", 10)
            b = Instance(settings_of(tmp_path, broker, prefix, database, "b"))
            await b.url()
            await live(postgres, database, "b")
            await watch.client.publish(f"{base}/one/set", "start", qos=1)
            await said_in(lamp, STEP, 10)  # the second step has begun
            await asyncio.gather(a.end(), b.end())
        finally:
            for instance in (a, b):
                if instance is not None and not instance.task.done():
                    await instance.end()
    said = [r.getMessage() for r in caplog.records]
    assert any("handed over" in line for line in said), said
    assert "one: no other instance took its run over; it ends here" in said
    with open_journal(database) as journal:
        [run] = journal.runs("one")
        assert journal.unfinished_runs() == []
    assert run.status is RunStatus.INTERRUPTED
    assert {k: lamp.state[k] for k in BEFORE} == BEFORE
    assert [p["event"] for p in watch.payloads(f"{base}/one/event")] == ["started", "interrupted"]
