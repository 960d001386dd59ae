"""What Home Assistant can change on a routine's device: its schedules switch (kept across restarts by
the broker), the next run's repetitions, and the dashboard link it shows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from homeflow.clock import FakeClock
from homeflow.conductor import Conductor
from homeflow.controls import Controls
from homeflow.homeassistant.entities import dashboard_url
from homeflow.house import House, Room
from homeflow.journal import Journal, open_journal
from homeflow.mqtt import MqttConnection
from homeflow.routine.model import Routine, Say, Step
from homeflow.routine.progression import first_level
from homeflow.settings.model import HttpSettings, MqttSettings, ScheduleTrigger
from homeflow.status import Status

from .harness import SHORT_ROUTINE, Collector, collecting, retained, serving, write_settings
from .mosquitto import Broker
from .recorders import RecordingSpeaker

ROUTINE = Routine("short", "Short", (Step("Only", (Say("Hello."),)),))
WHEN = datetime(2026, 3, 29, 7, 30, tzinfo=UTC)
TRIGGER = ScheduleTrigger("30 7 * * *")


@contextlib.asynccontextmanager
async def controlled(tmp_path: Path, broker: Broker, base: str) -> AsyncIterator[tuple[Controls, Journal]]:
    """A conductor and its controls on the real broker, connected; gone when the block ends (a
    restart is a second block on the same broker)."""
    clock = FakeClock()
    settings = MqttSettings(host=broker.host, port=broker.port, base_topic=base, client_id=f"{base}-hf")
    with open_journal(tmp_path / "j.db", now=clock.wall) as journal:
        mqtt = MqttConnection(settings)
        status = Status(mqtt, base, clock, ["short"])
        room = Room(ROUTINE, speakers=[RecordingSpeaker(clock)])
        house = House(clock, journal, status)
        conductor = Conductor(
            {"short": room}, house=house, levels={"short": first_level(ROUTINE.reps)}, mqtt=mqtt
        )
        controls = Controls(conductor, mqtt)
        async with asyncio.TaskGroup() as tasks:
            conductor.attach(tasks)
            running = [tasks.create_task(mqtt.run()), tasks.create_task(status.run())]
            await mqtt.connected.wait()
            yield controls, journal
            await conductor.stop()
            await status.flush()
            for task in running:
                task.cancel()


async def schedules_state(watch: Collector, base: str, since: int) -> str:
    message = await watch.wait_for(f"{base}/short/schedules", lambda m: True, since=since)
    return message.text


async def test_paused_schedules_skip_their_times_and_stay_paused_after_a_restart(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    base = f"{prefix}/hf"
    async with collecting(broker, f"{prefix}-ha", f"{base}/+/schedules") as watch:
        async with controlled(tmp_path, broker, base) as (controls, journal):
            assert await schedules_state(watch, base, 0) == "ON"  # never switched: on
            mark = len(watch.messages)
            await watch.client.publish(f"{base}/short/schedules/set", "OFF", qos=1)
            assert await schedules_state(watch, base, mark) == "OFF"
            await controls.scheduled("short", TRIGGER, WHEN)
            assert journal.runs() == []
        mark = len(watch.messages)
        async with controlled(tmp_path, broker, base) as (controls, journal):
            # The broker kept the switch: after the restart it is still off, and says so again (first
            # thing: no "ON" flickers before it).
            assert await schedules_state(watch, base, mark) == "OFF"
            assert controls.paused == {"short"}
            await controls.scheduled("short", TRIGGER, WHEN)
            assert journal.runs() == []
            mark = len(watch.messages)
            await watch.client.publish(f"{base}/short/schedules/set", "on", qos=1)
            assert await schedules_state(watch, base, mark) == "ON"
            await controls.scheduled("short", TRIGGER, WHEN)
            await asyncio.sleep(0.1)
            assert [run.trigger for run in journal.runs()] == ["schedule"]
    assert await retained(broker, f"{prefix}-fresh", f"{base}/+/schedules") == {
        f"{base}/short/schedules": "ON"
    }


async def test_repetitions_outside_the_routines_levels_are_refused(
    tmp_path: Path, broker: Broker, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    base = f"{prefix}/hf"
    config = write_settings(tmp_path, broker, prefix, routines={"short": SHORT_ROUTINE})
    async with (
        collecting(broker, f"{prefix}-ha", f"{base}/short/stats", f"{base}/status") as watch,
        serving(config, watch, base),
    ):
        stats = f"{base}/short/stats"
        await watch.wait_for(stats, lambda m: m.json["reps_level"] == 5)
        for wrong in ("7", "15", "many", "2.5"):
            mark = len(watch.messages)
            await watch.client.publish(f"{base}/short/reps/set", wrong, qos=1)
            # The figures as they are, so Home Assistant's number goes back to the level in force.
            assert (await watch.wait_for(stats, lambda m: True, since=mark)).json["reps_level"] == 5
        await watch.client.publish(f"{base}/short/reps/set", "10.0", qos=1)
        await watch.wait_for(stats, lambda m: m.json["reps_level"] == 10)
    warnings = [r.getMessage() for r in caplog.records if "repetitions: expected" in r.getMessage()]
    assert len(warnings) == 4 and "[3, 5, 10]" in warnings[0]  # 3: the gentler run's, after "it hurt"


def test_the_dashboard_link_is_an_address_home_assistant_can_open() -> None:
    assert dashboard_url(HttpSettings()) is None  # loopback only
    assert dashboard_url(HttpSettings(bind="0.0.0.0", token="t" * 16)) is None  # no one address to name
    assert dashboard_url(HttpSettings(bind="192.168.1.20", port=8765)) == "http://192.168.1.20:8765"
    assert dashboard_url(HttpSettings(bind="fd00::20", port=80)) == "http://[fd00::20]:80"
    assert dashboard_url(HttpSettings(bind="homeflow.lan", port=8765)) == "http://homeflow.lan:8765"
    assert dashboard_url(HttpSettings(bind="192.168.1.20", port=0)) is None
    public = HttpSettings(bind="0.0.0.0", public_url="https://flow.example:8443/x")
    assert dashboard_url(public) == "https://flow.example:8443/x"
