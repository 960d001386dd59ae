"""A person's next level kept in its own row: the replay of their answers before their latest counted
run, so finding the next level reads that run and those after it, never the whole journal. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from homeflow.routine.model import Reps
from homeflow.routine.progression import Feedback, Level, advance, first_level

RUNNING = "running"


@dataclass(frozen=True, slots=True)
class KeptLevel:
    """Every run up to id `through` is counted; `level` is the replay of the answers before run `last`,
    the newest completed or answered of them (0: none). That run and those after it are read again
    each time: a late answer to it, or an "it hurt" to a cancelled run after it, counts."""

    through: int
    last: int
    level: Level

    @property
    def read_after(self) -> int:
        return self.last - 1 if self.last else self.through


def start(reps: Reps) -> KeptLevel:
    return KeptLevel(0, 0, first_level(reps))


def brought_up_to_date(
    reps: Reps, kept: KeptLevel, runs: Sequence[tuple[int, str, Feedback | None]]
) -> tuple[KeptLevel, Level]:
    """What to keep, and the next level, from `runs` after `kept.read_after`: (id, status, answer) of
    completed runs, answered ones and those still going, by id. A run still going may complete later,
    so what is kept stops before it; the runs after it count in the level all the same."""
    going = [id_ for id_, status, _ in runs if status == RUNNING]
    through = going[0] - 1 if going else max(kept.through, runs[-1][0] if runs else 0)
    settled, level = KeptLevel(through, kept.last, kept.level), kept.level
    for id_, status, answer in runs:
        if status == RUNNING and answer is None:
            continue  # not an answer yet
        if id_ <= through:
            settled = KeptLevel(through, id_, level)
        level = advance(reps, level, answer)
    return settled, level
