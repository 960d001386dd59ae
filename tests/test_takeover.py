"""Taking over a run another homeflow left going, in one process with a real journal (both stores) and
recording devices: it goes on at the step that was playing, under the same run id, and gives the
lights back as the journal's snapshot has them; or, by setting, it is closed; a run whose end was
said is closed as completed. And a run's end is journaled only once its lights are back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from homeflow.clock import FakeClock
from homeflow.conductor import Conductor
from homeflow.devices.base import LightSnapshot
from homeflow.house import House, Room
from homeflow.journal import Database, Journal, RunStatus, open_journal
from homeflow.mqtt import MqttConnection
from homeflow.routine.plan import CueKind, build_plan
from homeflow.routine.progression import first_level
from homeflow.run import Run
from homeflow.settings.model import MqttSettings
from homeflow.status import Status
from homeflow.takeover import ambience_at, take_over

from .recorders import RecordingLight, RecordingSpeaker
from .routines import SHORT

BEFORE = {"state": "ON", "brightness": 200}


def conductor_of(
    journal: Journal, clock: FakeClock, light: RecordingLight, speaker: RecordingSpeaker
) -> Conductor:
    mqtt = MqttConnection(MqttSettings())  # never connected: nothing is published
    house = House(clock, journal, Status(mqtt, "homeflow", clock, ["short"]))
    room = Room(SHORT, lights=[light], speakers=[speaker])
    return Conductor({"short": room}, house=house, levels={"short": first_level(SHORT.reps)}, mqtt=mqtt)


def left_going(journal: Journal, until_step: int, *, end: bool = False) -> int:
    """A run as a dead owner left it: opened with the lamp's look before it, its cues journaled up to
    the first cue of `until_step` (or up to its end cue)."""
    run = journal.start_run("short", "mqtt", SHORT.reps.start, 60.0, {"lamp": dict(BEFORE)})
    plan = build_plan(SHORT, SHORT.reps.start, lambda _text: 1.0)
    last = len(plan.cues) - 1 if end else plan.first_cue_of_step(until_step)
    assert last is not None
    for index, cue in enumerate(plan.cues[: last + 1]):
        journal.record_cue(run, index, cue, 0.0)
    return run


async def taken_over(
    journal: Journal, on_takeover: str, **left: Any
) -> tuple[int, RecordingLight, RecordingSpeaker]:
    clock = FakeClock()
    light, speaker = RecordingLight(clock), RecordingSpeaker(clock)
    light.state = {"state": "ON", "brightness": 30}  # dimmed by the run
    run = left_going(journal, **left)
    conductor = conductor_of(journal, clock, light, speaker)
    async with asyncio.TaskGroup() as tasks:
        conductor.attach(tasks)
        await take_over(conductor, {"lamp": light}, "short", on_takeover, {})
    return run, light, speaker


async def test_a_run_taken_over_goes_on_at_the_step_that_was_playing(journal_at: Path | Database) -> None:
    with open_journal(journal_at) as journal:
        run, light, speaker = await taken_over(journal, "resume", until_step=2)
        [record] = journal.runs()
        said = [text for _, text in speaker.said]
        cues = journal.cues(run)
    assert (record.id, record.status) == (run, RunStatus.COMPLETED)  # the same run, one end
    assert said[0] == "Continuing with: right side."
    assert "Hello." not in said and "3 circles on the left." not in said  # the steps before are not said
    assert said[1:3] == ["3 circles on the right.", "One."]
    assert light.state == BEFORE  # the journal's snapshot, not the dimmed look
    assert light.applied[0][1] == ambience_at(SHORT, SHORT.reps.start, 2) == SHORT.ambience
    assert cues[-1]["kind"] == str(CueKind.END)


async def test_a_run_taken_over_after_its_light_change_gets_that_light(journal_at: Path | Database) -> None:
    """The last step changes the light: going on in it starts from the routine's ambience (the change
    is the step's own first cue after its start)."""
    changed = ambience_at(SHORT, SHORT.reps.start, 3)
    assert changed == SHORT.ambience
    with open_journal(journal_at) as journal:
        _, light, speaker = await taken_over(journal, "resume", until_step=3)
    assert [a.brightness_pct for _, a in light.applied] == [30, 60]
    assert [text for _, text in speaker.said][:2] == ["Continuing with: end.", "Round 1."]


async def test_by_setting_a_run_taken_over_is_closed_and_its_lights_given_back(
    journal_at: Path | Database,
) -> None:
    with open_journal(journal_at) as journal:
        run, light, speaker = await taken_over(journal, "interrupt", until_step=2)
        [record] = journal.runs()
    assert (record.id, record.status) == (run, RunStatus.INTERRUPTED)
    assert light.state == BEFORE and speaker.said == []


async def test_a_run_whose_end_was_journaled_is_closed_as_completed(journal_at: Path | Database) -> None:
    with open_journal(journal_at) as journal:
        run, light, speaker = await taken_over(journal, "resume", until_step=0, end=True)
        [record] = journal.runs()
    assert (record.id, record.status) == (run, RunStatus.COMPLETED)
    assert light.state == BEFORE and speaker.said == []


class SlowLight(RecordingLight):
    """Gives its look back only when the test lets it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def restore(self, snapshot: LightSnapshot, transition_s: float) -> None:
        self.asked.set()
        await self.release.wait()
        await super().restore(snapshot, transition_s)


@pytest.mark.parametrize("command", [None, "cancel"])
async def test_a_runs_end_is_journaled_once_its_lights_are_back(
    journal_at: Path | Database, command: str | None
) -> None:
    """A homeflow killed between giving the lights back and journaling the end leaves the run open, so
    the next owner gives the lights back; never a closed run with a dimmed lamp."""
    clock = FakeClock()
    light = SlowLight(clock)
    with open_journal(journal_at) as journal:
        house = House(clock, journal, Status(MqttConnection(MqttSettings()), "homeflow", clock, ["short"]))
        run = Run(Room(SHORT, lights=[light]), "mqtt", first_level(SHORT.reps), house)
        playing = asyncio.create_task(run.play())
        if command == "cancel":
            while run.run_id is None:  # noqa: ASYNC110 (fake clock)
                await asyncio.sleep(0)
            run.cancel()
        await light.asked.wait()
        for _ in range(20):
            await asyncio.sleep(0)
        assert [r.status for r in journal.runs()] == [RunStatus.RUNNING]
        light.release.set()
        await playing
        ended = RunStatus.CANCELLED if command else RunStatus.COMPLETED
        assert [r.status for r in journal.runs()] == [ended]
    assert light.state == BEFORE
