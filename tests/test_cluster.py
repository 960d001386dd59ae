"""Three homeflow instances in one process (each `serve()` on its own settings, differing only in
`cluster.instance`), one Mosquitto and one PostgreSQL: every routine has one owner; a routine started
over MQTT runs once; Home Assistant sees each routine once, available while any instance is up; a
non-owner's web API names the owner's role; a stopped instance's routines pass to the others; an owner
cut off from the journal mid-run leaves the run to the routine's next owner, which goes on with it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from homeflow import leases
from homeflow.journal import Database, RunStatus, open_journal
from homeflow.service import serve
from homeflow.settings import load

from .ha_schema import problems_of
from .harness import SHORT_ROUTINE, Collector, collecting, retained, stopped, write_settings
from .mosquitto import Broker
from .postgres import Postgres
from .z2m import SimulatedLight

ROUTINES = ("one", "two", "three")
PEERS = ("a", "b", "c")
BEFORE = {"state": "ON", "brightness": 200, "color_temp": 250, "color_mode": "color_temp"}
DIMMED = 89  # the routine's ambience: 35 % of 254


def body(instance: str) -> str:
    lights = "".join(f"  {r}: {{zigbee2mqtt: lamp-{r}}}\n" for r in ROUTINES)
    automations = "".join(f"  - {{routine: {r}, lights: [{r}]}}\n" for r in ROUTINES)
    cluster = f"cluster: {{instance: {instance}, peers: [{', '.join(PEERS)}]}}\n"
    return f"lights:\n{lights}automations:\n{automations}{cluster}"


def settings_of(folder: Path, broker: Broker, prefix: str, database: Database, instance: str) -> Path:
    config = write_settings(
        folder / instance,
        broker,
        prefix,
        body(instance),
        dict.fromkeys(ROUTINES, SHORT_ROUTINE),
        cache=folder / "cache",
    )
    text = config.read_text().replace('journal: "journal.db"', f"journal: {database.url}")
    config.write_text(text)
    return config


class Instance:
    def __init__(self, config: Path) -> None:
        self.settings = load(config)
        self.stop = asyncio.Event()
        self.ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(serve(self.settings, self.stop, time_scale=20, ready=self.ready))

    async def url(self) -> str:
        await asyncio.wait((self.task, self.ready), timeout=30, return_when=asyncio.FIRST_COMPLETED)
        assert self.task.done() or self.ready.done(), "homeflow not ready within 30 s"
        if self.task.done():
            self.task.result()
        return self.ready.result()

    async def end(self) -> None:
        self.stop.set()
        await stopped(self.task, within=15)


@contextlib.asynccontextmanager
async def cluster(
    tmp_path: Path, broker: Broker, prefix: str, database: Database
) -> AsyncIterator[dict[str, Instance]]:
    instances = {name: Instance(settings_of(tmp_path, broker, prefix, database, name)) for name in PEERS}
    try:
        yield instances
    finally:
        for instance in instances.values():
            if not instance.task.done():
                await instance.end()


def owners(postgres: Postgres, database: Database) -> dict[str, str]:
    rows = postgres.sql(database, "SELECT routine || '=' || owner FROM leases WHERE expires_at > now()")
    return dict(row.split("=") for row in rows.splitlines())


async def until_owned(
    postgres: Postgres, database: Database, check: Callable[[dict[str, str]], bool], within: float
) -> float:
    """Seconds until the live leases (routine -> owner) pass `check`."""
    began = time.monotonic()
    async with asyncio.timeout(within):
        while True:
            if check(owners(postgres, database)):
                return time.monotonic() - began
            await asyncio.sleep(0.1)


async def until_shown(
    http: aiohttp.ClientSession, url: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Routine `two` as the dashboard at `url` shows it, once it passes `check` (within 5 s)."""
    async with asyncio.timeout(5):
        while True:
            async with http.get(f"{url}/api/routines") as answer:
                [two] = [r for r in (await answer.json())["routines"] if r["id"] == "two"]
            if check(two):
                return two
            await asyncio.sleep(0.05)


def one_each(owned: dict[str, str]) -> bool:
    return sorted(owned) == sorted(ROUTINES) and len(set(owned.values())) == len(ROUTINES)


async def run_once(watch: Collector, base: str, routine: str) -> list[str]:
    """Start `routine` over MQTT and wait for its completion; the events it had."""
    since = len(watch.messages)
    await watch.client.publish(f"{base}/{routine}/set", "start", qos=1)
    await watch.wait_for(f"{base}/{routine}/event", lambda m: m.json["event"] == "completed", since=since)
    await asyncio.sleep(0.5)  # anything a second run would have done
    return [p["event"] for p in watch.payloads(f"{base}/{routine}/event", since=since)]


@pytest.fixture(autouse=True)
def short_leases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leases, "LEASE_S", 2.0)
    monkeypatch.setattr(leases, "RENEW_S", 0.25)


async def test_three_instances_one_owner_each_one_run_one_device(
    tmp_path: Path, broker: Broker, prefix: str, postgres: Postgres
) -> None:
    database = postgres.database()
    base = f"{prefix}/hf"
    lamps = {r: SimulatedLight(f"{prefix}/z2m", f"lamp-{r}", BEFORE) for r in ROUTINES}
    async with contextlib.AsyncExitStack() as stack:
        for lamp in lamps.values():
            await stack.enter_async_context(lamp.running(broker))
        watch = await stack.enter_async_context(collecting(broker, f"{prefix}-watch", f"{base}/#"))
        instances = await stack.enter_async_context(cluster(tmp_path, broker, prefix, database))
        urls = {name: await instance.url() for name, instance in instances.items()}
        # Three routines, three instances: one each.
        await until_owned(
            postgres, database, lambda o: sorted(o) == sorted(ROUTINES) and len(set(o.values())) == 3, 10
        )
        for name in PEERS:
            await watch.wait_for(f"{base}/instances/{name}/status", lambda m: m.text == "online")

        # Started over MQTT, heard by all three: run once, by its owner.
        owner = owners(postgres, database)["two"]
        assert await run_once(watch, base, "two") == ["started", "completed"]
        assert [c.get("brightness") for c in lamps["two"].commands].count(DIMMED) == 1
        assert lamps["one"].commands == lamps["three"].commands == []
        with open_journal(database) as journal:
            [run] = journal.runs("two")
            assert run.status is RunStatus.COMPLETED

        # The dashboard of an instance that does not own it passes a command on to the owner, which
        # runs it; that dashboard shows the run, and then its figures, as the owner publishes them.
        other = next(name for name in PEERS if name != owner)
        since = len(watch.messages)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{urls[other]}/api/routines/two/start") as answer:
                assert answer.status == 202
                assert (await answer.json())[
                    "result"
                ] == "sent to the homeflow instance that owns this routine"
            await until_shown(http, urls[other], lambda two: two["state"]["state"] == "running")
            await watch.wait_for(f"{base}/two/event", lambda m: m.json["event"] == "completed", since=since)
            owners_view = await until_shown(http, urls[owner], lambda two: two["state"]["state"] == "idle")
            assert owners_view["stats"]["completed_today"] == 2, owners_view["stats"]
            await until_shown(http, urls[other], lambda two: two["stats"] == owners_view["stats"])
        assert [p["event"] for p in watch.payloads(f"{base}/two/event", since=since)] == [
            "started",
            "completed",
        ]

        # Home Assistant: one device per routine, available while any instance is online.
        configs = {
            topic: json.loads(text)
            for topic, text in (await retained(broker, f"{prefix}-ha", f"{prefix}/ha/#")).items()
            if text
        }
        statuses = [f"{base}/instances/{name}/status" for name in PEERS]
        hub = [c for t, c in configs.items() if "/binary_sensor/" in t]
        assert sorted(c["state_topic"] for c in hub) == statuses
        for routine in ROUTINES:
            device = [c for c in configs.values() if c["device"]["identifiers"] == [f"{prefix}_hf_{routine}"]]
            assert len(device) > 10, routine
        for topic, config in configs.items():
            assert problems_of(topic, config) == [], topic
            if "unique_id" in config and "/binary_sensor/" not in topic and "availability_mode" in config:
                if config["availability_mode"] == "any":
                    assert [a["topic"] for a in config["availability"]] == statuses, topic
            elif "unique_id" in config and "/binary_sensor/" not in topic:
                raise AssertionError(f"{topic}: no availability")

        # One instance stops: the others take its routine within a few seconds.
        assert [r for r, o in owners(postgres, database).items() if o == owner] == ["two"]
        began = time.monotonic()
        await instances[owner].end()
        await watch.wait_for(f"{base}/instances/{owner}/status", lambda m: m.text == "offline")
        taken = await until_owned(
            postgres, database, lambda o: sorted(o) == sorted(ROUTINES) and owner not in o.values(), 10
        )
        assert time.monotonic() - began < 5, taken
        assert await run_once(watch, base, "two") == ["started", "completed"]
        with open_journal(database) as journal:
            assert [run.status for run in journal.runs("two")] == [RunStatus.COMPLETED] * 3


# A routine whose second step, with its own light, begins after 10 routine seconds and lasts `step_s`.
LONG_ROUTINE = """\
name: Long
ambience: {{brightness: 35, transition: 0}}
steps:
  - title: Begin
    do:
      - say: Settle in.
      - wait: {{seconds: 10}}
  - title: Up and down, left side
    do:
      - light: {{brightness: 60, transition: 0}}
      - say: Up and down.
      - wait: {{seconds: {step_s}}}
  - title: Close
    do:
      - say: Done.
"""
TAKEN_OVER_ROUTINE = LONG_ROUTINE.format(step_s=60)
STEP = 152  # the second step's light: 60 % of 254


async def said_in(lamp: SimulatedLight, brightness: int, within: float) -> None:
    async with asyncio.timeout(within):
        while lamp.state.get("brightness") != brightness:
            await lamp.changed.wait()
            lamp.changed.clear()


@pytest.mark.parametrize(
    ("on_takeover", "paused"), [("resume", False), ("resume", True), ("interrupt", False)]
)
async def test_an_owner_cut_off_mid_run_leaves_the_run_to_the_next_owner_which_goes_on_with_it(  # noqa: PLR0917
    tmp_path: Path, broker: Broker, prefix: str, postgres: Postgres, on_takeover: str, paused: bool
) -> None:
    """Instance a's lease moves to b (as if a's renewals had not reached the database): a stops its run
    at once and leaves the lamp dimmed and the run open, for b. b never comes, so the routine returns
    to a, which takes the run over as any new owner does: resumed at the step that was playing (or
    closed as interrupted), one run, one end."""
    database = postgres.database()
    base = f"{prefix}/hf"
    lamp = SimulatedLight(f"{prefix}/z2m", "lamp-one", BEFORE)
    config = settings_of(tmp_path, broker, prefix, database, "a")
    (config.parent / "routines/one.yaml").write_text(TAKEN_OVER_ROUTINE)
    text = config.read_text().replace("peers: [a, b, c]}", f"peers: [a, b, c], on_takeover: {on_takeover}}}")
    config.write_text(text)
    async with lamp.running(broker), collecting(broker, f"{prefix}-watch", f"{base}/#") as watch:
        instance = Instance(config)
        try:
            await instance.url()
            await until_owned(postgres, database, lambda o: o.get("one") == "a", 10)
            await watch.client.publish(f"{base}/one/set", "start", qos=1)
            await said_in(lamp, STEP, 10)  # the second step has begun
            if paused:
                await watch.client.publish(f"{base}/one/set", "pause", qos=1)
                await watch.wait_for(f"{base}/one/state", lambda m: m.json["state"] == "paused")
            since = len(watch.messages)
            postgres.sql(
                database,
                "UPDATE leases SET owner = 'b', expires_at = now() + interval '1.5 s' WHERE routine = 'one'",
            )
            await until_owned(postgres, database, lambda o: o.get("one") == "b", 2)
            lost = len(lamp.commands)
            with open_journal(database) as journal:
                [run] = journal.runs("one")
                assert run.status is RunStatus.RUNNING
            # b never renews: the routine comes back to a, which takes the run over.
            await until_owned(postgres, database, lambda o: o.get("one") == "a", 10)
            ended = "completed" if on_takeover == "resume" else "interrupted"
            if paused:  # taken over paused, it stays paused until the person goes on
                await watch.wait_for(f"{base}/one/event", lambda m: m.json["event"] == "resumed", since=since)
                await asyncio.sleep(1)
                said_paused = [p["text"] for p in watch.payloads(f"{base}/one/say", since=since)]
                assert set(said_paused) <= {"Paused. Press again to go on."}
                assert watch.payloads(f"{base}/one/state", since=since)[-1]["state"] == "paused"
                await watch.client.publish(f"{base}/one/set", "resume", qos=1)
            if on_takeover == "resume":
                await watch.wait_for(f"{base}/one/event", lambda m: m.json["event"] == ended, within=10)
            await said_in(lamp, BEFORE["brightness"], 10)
        finally:
            await instance.end()
    # While cut off, a gave nothing back: the lamp stayed as the run had it, until the take-over.
    assert all(c.get("brightness") != BEFORE["brightness"] for c in lamp.commands[:lost])
    assert {k: lamp.state[k] for k in BEFORE} == BEFORE
    with open_journal(database) as journal:
        [run] = journal.runs("one")
        assert run.status is RunStatus(ended)
        said = [c["text"] for c in journal.cues(run.id) if c["kind"] == "say"]
    events = [p["event"] for p in watch.payloads(f"{base}/one/event")]
    texts = [p["text"] for p in watch.payloads(f"{base}/one/say")]
    if on_takeover == "resume":
        assert events == ["started", "resumed", "completed"]
        # The step that was playing is said again after "Continuing with", and only that step.
        assert texts.count("Continuing with: up and down, left side.") == 1
        assert texts.count("Settle in.") == 1 and texts.count("Up and down.") == 2
        assert texts.count("Done.") == 1
        # Paused before the take-over: said once, and the take-over's sentence instead of "Resuming".
        assert texts.count("Paused. Press again to go on.") == int(paused)
        assert "Resuming." not in texts
        assert texts.index("Continuing with: up and down, left side.") < len(texts) - 2
        # Taken over with the step's ambience: the routine's, then the step's own light change.
        taken = [c.get("brightness") for c in lamp.commands[lost:]]
        assert taken[:2] == [DIMMED, STEP], taken
        assert said == ["Settle in.", "Up and down.", "Done."]
    else:
        assert events == ["started", "interrupted"]
        assert said == ["Settle in.", "Up and down."]
