"""Which repetition level the next run uses, from the feedback of earlier runs. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from homeflow.routine.model import Reps


class Feedback(StrEnum):
    GOOD = "good"
    TOO_MUCH = "too_much"


@dataclass(frozen=True, slots=True)
class Level:
    reps: int
    reason: str
    went_up: bool = False  # the latest answer moved the level up: the next run says so


def next_level(reps: Reps, feedback: Iterable[Feedback | None]) -> Level:
    """Replay completed runs' feedback, oldest first: enough good runs in a row move up a step,
    "too much" drops back to the start; never above `reps.max`. No answer neither counts nor resets."""
    level, good_in_row, reason, went_up = reps.start, 0, "starting level", False
    for answer in feedback:
        if answer is None:
            continue
        went_up = False
        if answer is Feedback.TOO_MUCH:
            level, good_in_row, reason = reps.start, 0, "the last run was too much: back to the start"
        elif good_in_row + 1 >= reps.good_sessions_to_progress and level < reps.max:
            level, good_in_row, went_up = min(reps.max, level + reps.step), 0, True
            reason = f"{reps.good_sessions_to_progress} good runs in a row: up to {level}"
        elif level >= reps.max:
            reason = "at the highest level"
        else:
            good_in_row += 1
            needed = reps.good_sessions_to_progress
            reason = f"{good_in_row} of {needed} good runs towards {level + reps.step}"
    return Level(level, reason, went_up)
