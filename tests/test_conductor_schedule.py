"""What a schedule does when its time comes: start, invite, or skip (running, done today, limits)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from homeflow.clock import FakeClock
from homeflow.conductor import Conductor
from homeflow.house import House, Room
from homeflow.journal import Database, RunStatus, open_journal
from homeflow.mqtt import MqttConnection
from homeflow.routine.model import Limits, Routine, Say, Step
from homeflow.routine.progression import first_level
from homeflow.settings.model import MqttSettings, ScheduleTrigger
from homeflow.status import Status

from .recorders import RecordingSpeaker

ROUTINE = Routine("short", "Short", (Step("Only", (Say("Hello."),)),), limits=Limits(max_per_day=1))
WHEN = datetime(2026, 3, 29, 7, 30, tzinfo=UTC)


async def conduct(
    journal_at: Path | Database, trigger: ScheduleTrigger, *, done_today: bool = False
) -> list[str]:
    """Fire `trigger` once against a conductor with a real journal; return what was said."""
    clock = FakeClock()
    speaker = RecordingSpeaker(clock)
    with open_journal(journal_at, now=clock.wall) as journal:
        if done_today:
            journal.finish_run(journal.start_run("short", "button:b", 5, 1.0, {}), RunStatus.COMPLETED)
        # Never connected: publishing is skipped, which is all these tests need of MQTT.
        mqtt = MqttConnection(MqttSettings())
        house = House(clock, journal, Status(mqtt, "homeflow", clock, ["short"]))
        conductor = Conductor(
            {"short": Room(ROUTINE, speakers=[speaker])},
            house=house,
            levels={"short": first_level(ROUTINE.reps)},
            mqtt=mqtt,
        )
        async with asyncio.TaskGroup() as tasks:
            conductor.attach(tasks)
            await conductor.scheduled("short", trigger, WHEN)
        runs = journal.runs()
    return [text for _, text in speaker.said] + [f"runs: {len(runs)}"]


async def test_a_schedule_starts_the_routine(journal_at: Path | Database) -> None:
    assert await conduct(journal_at, ScheduleTrigger("30 7 * * *")) == ["Hello.", "runs: 1"]


async def test_a_schedule_skips_a_day_already_done(journal_at: Path | Database) -> None:
    assert await conduct(journal_at, ScheduleTrigger("30 7 * * *"), done_today=True) == ["runs: 1"]


async def test_a_completion_dated_ahead_by_a_wrong_clock_does_not_skip_today(
    journal_at: Path | Database,
) -> None:
    # Journaled while the clock was two days ahead, then corrected: not today's, and not a run that
    # fills the routine's one a day.
    ahead = FakeClock().wall() + timedelta(days=2)
    with open_journal(journal_at, now=lambda: ahead) as journal:
        journal.finish_run(journal.start_run("short", "button:b", 5, 1.0, {}), RunStatus.COMPLETED)
    assert await conduct(journal_at, ScheduleTrigger("30 7 * * *")) == ["Hello.", "runs: 2"]


async def test_without_skipping_it_still_keeps_the_daily_limit(journal_at: Path | Database) -> None:
    trigger = ScheduleTrigger("30 7 * * *", skip_if_done_today=False)
    assert await conduct(journal_at, trigger, done_today=True) == ["runs: 1"]


async def test_an_announcing_schedule_invites_and_waits_for_the_button(journal_at: Path | Database) -> None:
    trigger = ScheduleTrigger("30 7 * * *", announce="Time for your back routine.")
    assert await conduct(journal_at, trigger) == ["Time for your back routine.", "runs: 0"]
