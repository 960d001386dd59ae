"""The one plan function: what a run will do and say, timed by the speech its speakers render.

The run plays exactly this plan; `homeflow plan` prints it and the web API serves it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from homeflow.routine.guidance import (
    PHRASES,
    continuing_with,
    feedback_reply,
    gentle_announcement,
    level_announcement,
)
from homeflow.routine.model import Routine
from homeflow.routine.plan import Plan, build_plan, estimate_speech_s, scope_of, sentences
from homeflow.routine.progression import Feedback, Level, advance


class Renders(Protocol):
    """What the plan needs of a speaker (devices.base.Speaker is one): each sentence's spoken length."""

    async def prepare(self, texts: Iterable[str]) -> Mapping[str, float]: ...


def replies(routine: Routine, level: Level) -> tuple[str, ...]:
    """What may be said after the end-of-run question, whatever the answer."""
    said = (feedback_reply(a, advance(routine.reps, level, a), routine.reps.start) for a in Feedback)
    return tuple(text for text in said if text)


async def prepare_plan(
    routine: Routine,
    level: Level,
    speakers: Sequence[Renders],
    hint: str | None = None,
    *,
    resume_at: int | None = None,
) -> Plan:
    """Render every sentence on every speaker, then time the plan by the longest rendering (by an
    estimate without speakers). `hint` follows the question: how the button that started the run
    answers it. `resume_at`: the step a run taken over goes on with; what it says first is rendered
    too (a phrase of the plan, like "Paused")."""
    good_sessions = routine.reps.good_sessions_to_progress
    announcement = level_announcement(level, good_sessions) or gentle_announcement(level, routine)
    preface = (announcement,) if announcement else ()
    question = (
        routine.feedback.question.format_map(scope_of(routine, level.reps)) if routine.feedback else None
    )
    if question and hint:
        question = f"{question} {hint}"
    phrases = (*PHRASES, *replies(routine, level), *resuming(routine, level.reps, resume_at))
    texts = (*sentences(routine, level.reps, preface, question), *phrases)
    durations: dict[str, float] = {}
    for measured in await asyncio.gather(*(s.prepare(texts) for s in speakers)):
        for text, seconds in measured.items():
            durations[text] = max(seconds, durations.get(text, 0.0))

    def speech_s(text: str) -> float:
        return durations.get(text) or estimate_speech_s(text)

    plan = build_plan(routine, level.reps, speech_s, preface, question)
    return dataclasses.replace(plan, phrases={text: speech_s(text) for text in phrases})


def resuming(routine: Routine, reps: int, step: int | None) -> tuple[str, ...]:
    """What a run taken over at `step` says before it: "Continuing with: <the step's title>."."""
    if step is None:
        return ()
    titles = build_plan(routine, reps, lambda _text: 1.0).steps
    return (continuing_with(titles[step]),) if 0 <= step < len(titles) else ()
