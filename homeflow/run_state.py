"""What a run looks like on its routine's state topic and the dashboard: its state and step, whose it
is, and when the step and the run end on the wall clock (they move with a pause or a skip). Each field
and its type is listed in homeflow/state_shape.py, which a state mirrored from another instance keeps to."""

from __future__ import annotations

from typing import Any

from homeflow.clock import Clock, wall_at
from homeflow.runner import Runner
from homeflow.status import RoutineState


def state_of(runner: Runner, about: dict[str, Any], *, asking: bool, clock: Clock) -> dict[str, Any]:
    """The state of the run `runner` plays; `about`: which run it is (id, trigger, start, whose)."""
    plan = runner.plan
    if plan is None:
        return {"state": str(RoutineState.STARTING), "step": None, "step_index": None, **about}
    step = runner.step if runner.step >= 0 else None
    following = runner.step + 1
    begun, ends = runner.step_span
    state = {
        "state": str(RoutineState.ASKING if asking else RoutineState(str(runner.state))),
        "step": plan.steps[step] if step is not None else None,
        "step_index": step,
        "steps": len(plan.steps),
        "next_step": plan.steps[following] if following < len(plan.steps) else None,
        "reps": plan.reps,
        **about,
        "ends_at": _wall(clock, runner.ends_at, "seconds"),
        # The step's span, so a page counts its time down itself; both move with a pause or a skip.
        "step_started_at": _wall(clock, begun),
        "step_ends_at": _wall(clock, ends),
        "progress": round(100 * runner.elapsed_s / plan.total_s) if plan.total_s else 0,
    }
    if (paused := runner.paused_at) is not None:
        state["paused_at"] = _wall(clock, paused)  # the time left stands still from here
    return state


def _wall(clock: Clock, deadline: float, timespec: str = "milliseconds") -> str:
    return wall_at(clock, deadline).isoformat(timespec=timespec)
