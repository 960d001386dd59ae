"""Which repetition level the next run uses, from the feedback of earlier runs. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from homeflow.routine.model import Reps


class Feedback(StrEnum):
    GOOD = "good"
    TOO_MUCH = "too_much"
    HURT = "hurt"  # a path of its own: back to the start, gently, with advice to rest


@dataclass(frozen=True, slots=True)
class Level:
    reps: int
    reason: str
    went_up: bool = False  # the latest answer moved the level up: the next run says so
    good_in_row: int = 0  # good answers since the last change of level
    gentle: bool = False  # the last answer was "it hurt": the next run offers the gentler option


def towards(reps: Reps, level: Level) -> dict[str, int] | None:
    """How far good runs in a row have come towards the next level: `good` of `needed` towards `reps`
    (e.g. 1 of 2 good runs towards 10); None at the highest level."""
    if level.reps >= reps.max:
        return None
    up = min(reps.max, level.reps + reps.step)
    return {"good": level.good_in_row, "needed": reps.good_sessions_to_progress, "reps": up}


def first_level(reps: Reps) -> Level:
    return Level(reps.start, "starting level")


def advance(reps: Reps, level: Level, answer: Feedback | None) -> Level:
    """The level after one more completed run answered with `answer`: enough good runs in a row move
    up a step, "too much" drops back to the start, "it hurt" makes the next run the gentler one (at
    `reps.gentle_reps`), and any other answer to that one goes back to the start; never above
    `reps.max`. No answer changes nothing."""
    if answer is None:
        return level
    if answer is Feedback.TOO_MUCH:
        return Level(reps.start, "the last run was too much: back to the start")
    if answer is Feedback.HURT:
        gentle = reps.gentle_reps
        return Level(gentle, f"the last run hurt: gently, at {gentle} instead of {reps.start}", gentle=True)
    if level.gentle:
        return Level(reps.start, "the gentle run went well: back to the start")
    good = level.good_in_row + 1
    if good >= reps.good_sessions_to_progress and level.reps < reps.max:
        up = min(reps.max, level.reps + reps.step)
        return Level(up, f"{reps.good_sessions_to_progress} good runs in a row: up to {up}", went_up=True)
    if level.reps >= reps.max:
        return Level(level.reps, "at the highest level")
    needed = reps.good_sessions_to_progress
    return Level(
        level.reps, f"{good} of {needed} good runs towards {level.reps + reps.step}", good_in_row=good
    )


def next_level(reps: Reps, feedback: Iterable[Feedback | None]) -> Level:
    """Replay completed runs' feedback, oldest first (`advance` for each)."""
    level = first_level(reps)
    for answer in feedback:
        level = advance(reps, level, answer)
    return level
