"""A run left going when its homeflow stopped acting on it: killed, cut off from the journal, shut
down by the power, or stopped cleanly with another instance live (it hands its runs over). At
start-up a lone homeflow closes such runs; in a cluster, the instance that takes the routine over goes
on with the run (`cluster.on_takeover: resume`, the default) or closes it (`interrupt`).

Going on: the journal holds the run (its routine, reps, trigger and start), the lights' snapshot from
before its first change, and every cue it carried out. The new owner rebuilds the same plan (the same
routine at the same reps: the one plan function, `prepare_plan`), finds the step of the last cue
journaled, sets the routine's ambience in effect at that step, says "Continuing with: <step>." and
plays on from that step's first cue, under the same run id: one run, one end. Only that step's cues
are carried out twice. At the end it gives the lights back as the journal's snapshot has them (the
lamps themselves are dimmed by then).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from homeflow.asking import button_hint
from homeflow.devices.base import Light
from homeflow.devices.lights.session import restore_lights
from homeflow.house import House
from homeflow.journal import RunRecord, RunStatus
from homeflow.people import key
from homeflow.planning import first_run
from homeflow.routine.guidance import said
from homeflow.routine.model import Ambience, Routine
from homeflow.routine.plan import USUAL_RUN, Conditions, CueKind, build_plan
from homeflow.routine.progression import Level
from homeflow.run import Resume, Run
from homeflow.settings.model import Zigbee2MqttButton
from homeflow.status import RunEvent

if TYPE_CHECKING:
    from homeflow.conductor import Conductor

log = logging.getLogger(__name__)

RESUME = "resume"
# What the last journaled cue of a run that had reached its end is.
ENDED = frozenset({str(CueKind.END), str(CueKind.ASK)})


async def recover(house: House, lights: Mapping[str, Light], routine: str | None = None) -> None:
    """Close runs left open (of `routine`, or of every routine) as interrupted, and give their
    lights back."""
    for record in house.journal.unfinished_runs():
        if routine is None or record.routine == routine:
            await close(house, lights, record, RunStatus.INTERRUPTED)


async def close(house: House, lights: Mapping[str, Light], record: RunRecord, status: RunStatus) -> None:
    known = {name: snap for name, snap in record.light_snapshot.items() if name in lights}
    await restore_lights([lights[name] for name in known], known, 0.0)
    house.journal.finish_run(record.id, status)
    house.status.event(record.routine, RunEvent(str(status)), run_id=record.id, trigger=record.trigger)
    log.warning(
        "%s: run %d was %s at %s; %d light(s) restored",
        record.routine,
        record.id,
        status,
        record.started_at.isoformat(timespec="seconds"),
        len(known),
    )


async def take_over(
    conductor: Conductor,
    lights: Mapping[str, Light],
    routine_id: str,
    on_takeover: str,
    buttons: Mapping[str, Zigbee2MqttButton],
) -> None:
    """Go on with the run its last owner left going (or close it, per `on_takeover`); close any older
    one. Called before this instance acts on the routine."""
    house = conductor.house
    left = [record for record in house.journal.unfinished_runs() if record.routine == routine_id]
    if not left:
        return
    newest, *older = left  # newest first; more than one is a journal from before leases
    for record in older:
        await close(house, lights, record, RunStatus.INTERRUPTED)
    room = conductor.rooms[routine_id]
    cues = house.journal.cues(newest.id)
    if cues and cues[-1]["kind"] in ENDED:  # it had ended; only its end was not written
        await close(house, lights, newest, RunStatus.COMPLETED)
        return
    step = max(0, cues[-1]["step"]) if cues else 0
    profile = newest.profile if newest.profile in room.profiles else room.first
    level = conductor.levels[key(routine_id, profile)]
    if level.reps != newest.reps:  # the run goes on at the reps it started with
        level = Level(newest.reps, "the level the run started at")
    # The run's own `when:` actions: a light for some runs only may have changed the lamps.
    first = first_run(house.journal, room.routine, room.person(profile))
    ambience = ambience_at(room.routine, newest.reps, step, Conditions(first, level.gentle))
    if on_takeover != RESUME or ambience is None:
        await close(house, lights, newest, RunStatus.INTERRUPTED)
        return
    button = buttons.get(newest.trigger.removeprefix("button:"))
    pressed = button is not None and newest.trigger.startswith("button:")
    hint = button_hint(button, said(room.routine)) if button is not None and pressed else None
    resume = Resume(newest, step, ambience, newest.paused)
    run = Run(room, newest.trigger, level, house, hint, profile=profile, resume=resume)
    log.warning("%s: run %d taken over, going on at step %d", routine_id, newest.id, step + 1)
    conductor.adopt(run)
    # Shown at once, not only once the run's task begins: the routine's state this instance shows when
    # it owns the routine (right after this) is the run's, never an idle one in between.
    run.state_changed()


def ambience_at(
    routine: Routine, reps: int, step: int, conditions: Conditions = USUAL_RUN
) -> Ambience | None:
    """The routine's ambience in effect when `step` begins (its last light change before it); None
    when the routine has no such step (its file changed since the run began)."""
    plan = build_plan(routine, reps, lambda _text: 1.0, conditions=conditions)
    first = plan.first_cue_of_step(step)
    if first is None:
        return None
    changes = [c.ambience for c in plan.cues[:first] if c.kind is CueKind.LIGHT and c.ambience is not None]
    return changes[-1] if changes else routine.ambience
