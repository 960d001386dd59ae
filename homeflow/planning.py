"""The one plan function: what a run will do and say, timed by the speech its speakers render.

The run plays exactly this plan; `homeflow plan` prints it and the web API serves it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from homeflow.journal.base import Journal, JournalError, Person, RunStatus
from homeflow.routine.guidance import (
    around,
    continuing_with,
    feedback_reply,
    gentle_announcement,
    level_announcement,
    said,
    stop_rules,
)
from homeflow.routine.model import Routine
from homeflow.routine.plan import Conditions, Plan, build_plan, estimate_speech_s, scope_of, sentences
from homeflow.routine.progression import Feedback, Level, advance
from homeflow.routine.safety import owed


class Renders(Protocol):
    """What the plan needs of a speaker (devices.base.Speaker is one): each sentence's spoken length."""

    async def prepare(self, texts: Iterable[str]) -> Mapping[str, float]: ...


def replies(routine: Routine, level: Level) -> tuple[str, ...]:
    """What may be said after the end-of-run question, whatever the answer."""
    table = said(routine)
    stops, start = stop_rules(routine), routine.reps.start
    texts = (feedback_reply(a, advance(routine.reps, level, a), start, table, stops) for a in Feedback)
    return tuple(text for text in texts if text)


def safety_owed(journal: Journal, routine: Routine, person: Person | None = None) -> bool:
    """Whether `person`'s next run of `routine` (None: the routine without profiles) says its safety
    introduction: not yet heard by them in this text. A journal that cannot be read owes it: better
    said once too often than not at all."""
    if not routine.safety:
        return False
    try:
        return owed(routine, journal.safety_heard(routine.id, person))
    except JournalError:
        return True


def first_run(journal: Journal, routine: Routine, person: Person | None) -> bool:
    """Whether `person` (without profiles: anyone) has not completed `routine` before: the run says
    its `when: first_run` actions. A journal that cannot be read says them once more."""
    try:
        return not journal.runs(routine.id, limit=1, status=RunStatus.COMPLETED, person=person)
    except JournalError:
        return True


async def prepare_plan(
    routine: Routine,
    level: Level,
    speakers: Sequence[Renders],
    hint: str | None = None,
    *,
    safety: bool = False,
    first: bool = False,
    resume_at: int | None = None,
    also: tuple[str, ...] = (),
) -> Plan:
    """Render every sentence on every speaker, then time the plan by the longest rendering (by an
    estimate without speakers). `hint` follows the question: how the button that started the run
    answers it. `safety`: the routine's safety introduction is owed (`safety_owed`), said first.
    `first`: the person's first run (`first_run`); with the level's `gentle`, which `when:` actions hold.
    `resume_at`: the step a run taken over goes on with; what it says first is rendered too (a phrase
    of the plan, like "Paused"). `also`: more phrases the run may say (the question after a cancel)."""
    good_sessions = routine.reps.good_sessions_to_progress
    announcement = level_announcement(level, good_sessions, said(routine)) or gentle_announcement(
        level, routine
    )
    preface = (announcement,) if announcement else ()
    question = (
        routine.feedback.question.format_map(scope_of(routine, level.reps)) if routine.feedback else None
    )
    if question and hint:
        question = f"{question} {hint}"
    conditions = Conditions(first_run=first, gentle=level.gentle)
    phrases = (*around(routine), *replies(routine, level), *resuming(routine, level.reps, resume_at), *also)
    said_in_plan = sentences(routine, level.reps, preface, question, safety=safety, conditions=conditions)
    texts = (*said_in_plan, *phrases)
    durations: dict[str, float] = {}
    for measured in await asyncio.gather(*(s.prepare(texts) for s in speakers)):
        for text, seconds in measured.items():
            durations[text] = max(seconds, durations.get(text, 0.0))

    def speech_s(text: str) -> float:
        return durations.get(text) or estimate_speech_s(text)

    plan = build_plan(routine, level.reps, speech_s, preface, question, safety=safety, conditions=conditions)
    return dataclasses.replace(plan, phrases={text: speech_s(text) for text in phrases})


def resuming(routine: Routine, reps: int, step: int | None) -> tuple[str, ...]:
    """What a run taken over at `step` says before it: "Continuing with: <the step's title>."."""
    if step is None:
        return ()
    titles = build_plan(routine, reps, lambda _text: 1.0).steps
    return (continuing_with(titles[step], said(routine)),) if 0 <= step < len(titles) else ()
