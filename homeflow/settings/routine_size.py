"""How big a routine can get: its cues and its length at reps.max, worked out before anything is
expanded, so a routine that would expand to millions of cues never does."""

from __future__ import annotations

import re
from collections.abc import Mapping

from homeflow.routine.model import Action, Count, Repeat, RepeatSteps, Routine, Step, Wait
from homeflow.routine.plan import Conditions, build_plan, estimate_speech_s
from homeflow.settings.checks import Checker
from homeflow.settings.limits import MAX_COUNT, MAX_CUES, MAX_PLAN_S
from homeflow.settings.yamlnodes import Node

# A `for` value the planner can count with: int() takes it as written (YAML's 0x10 or 1:30 it does not).
INTEGER = re.compile(r"[+-]?[0-9]+")


def fits(ch: Checker, routine: Routine, at: Node) -> bool:
    """Whether a run at reps.max stays within MAX_CUES and MAX_PLAN_S. Its size is computed first, by
    multiplying rounds and counts, so a routine that would expand to millions of cues never does."""
    reps = routine.reps.max
    numbers = {"reps": reps, "max_reps": reps}
    numbers.update((k, v) for k, v in routine.variables.items() if isinstance(v, int))
    cues = sum(_size(step, numbers) for step in routine.steps)
    at_max = f"at {reps} repetitions (reps.max)"
    if cues > MAX_CUES:
        ch.report(
            at, "steps", f"up to {cues:,} cues {at_max}; at most {MAX_CUES:,}: fewer rounds or lower counts"
        )
        return False
    # A first run says the most (its `when: first_run` actions too).
    total_s = build_plan(routine, reps, estimate_speech_s, conditions=Conditions(first_run=True)).total_s
    if total_s > MAX_PLAN_S:
        hours = f"{MAX_PLAN_S / 3600:g} h"
        ch.report(at, "steps", f"takes about {total_s / 3600:.3g} h {at_max}; at most {hours}")
        return False
    return True


def _size(item: Step | RepeatSteps | Action, numbers: Mapping[str, int]) -> int:
    """The most cues `item` expands to; `numbers` holds the largest value of each number in scope."""
    if isinstance(item, Step):
        return 1 + sum(_size(action, numbers) for action in item.actions)
    if isinstance(item, RepeatSteps | Repeat):
        body: tuple[Step | Action, ...] = item.steps if isinstance(item, RepeatSteps) else item.actions
        if item.var is not None:
            rounds = len(item.values)
            ints = [int(value) for value in item.values if INTEGER.fullmatch(value)]
            inner = {**numbers, item.var: max(ints)} if ints and len(ints) == rounds else numbers
        else:
            rounds = _largest(item.times, numbers)
            inner = {**numbers, "round": rounds}
        return rounds * sum(_size(each, inner) for each in body)
    if isinstance(item, Count):
        return (1 if item.text else 0) + _largest(item.to, numbers)
    if isinstance(item, Wait):
        return 2 if item.text else 1
    return 1  # Say, Light


def _largest(value: int | str, numbers: Mapping[str, int]) -> int:
    return value if isinstance(value, int) else numbers.get(value[1:-1], MAX_COUNT)
