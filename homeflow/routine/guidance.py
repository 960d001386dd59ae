"""What homeflow says around a routine: refusals, level changes, feedback replies. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from homeflow.routine.model import DEFAULT_GENTLE, Routine
from homeflow.routine.plan import number_word, scope_of
from homeflow.routine.progression import Feedback, Level

PAUSED = "Paused. Press again to go on."
RESUMING = "Resuming."
CANCELLED = "Stopping here. Your lights are coming back."
PHRASES = (PAUSED, RESUMING, CANCELLED)
# After "it hurt": said in the reply, and shown beside the routine until a later answer.
REST_ADVICE = "Rest, and if the pain persists, see a doctor or a physiotherapist."
SHOWN_ADVICE = f"It hurt last time. {REST_ADVICE}"
# How each answer is named when a button's gestures are read out.
_ANSWER_WORDS = {
    Feedback.GOOD: "if it felt good",
    Feedback.TOO_MUCH: "if it was too much",
    Feedback.HURT: "if it hurt",
}


def continuing_with(step_title: str) -> str:
    """What a run another homeflow took over says first: the step it goes on with, from its start."""
    return f"Continuing with: {step_title[:1].lower()}{step_title[1:].rstrip('.')}."


def times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{number_word(n)} times")


def refusal(routine: Routine, completed_today: int, last_ended: datetime | None, now: datetime) -> str | None:
    """Why a run may not start now (one sentence to say), or None when it may."""
    limits = routine.limits
    if limits.max_per_day is not None and completed_today >= limits.max_per_day:
        return (
            f"You have done the {routine.name.lower()} {times(completed_today)} today. "
            "Rest now: too much irritates the tissue."
        )
    if last_ended is not None and limits.min_gap_s > 0:
        wait_s = limits.min_gap_s - (now - last_ended).total_seconds()
        if wait_s > 0:
            minutes = max(1, round(wait_s / 60))
            return (
                f"Your last {routine.name.lower()} was a short while ago. "
                f"Give your back {minutes} more minute{'s' if minutes != 1 else ''} of rest."
            )
    return None


def light_in_use(light: str, routine_name: str) -> str:
    """Why a run may not start while another routine's run holds one of its lights."""
    return f"The {light} light is in use by {routine_name}. Start again when it is over."


def level_announcement(level: Level, good_sessions: int) -> str | None:
    """Said before the first step when the level has just gone up."""
    if not level.went_up:
        return None
    return (
        f"You had {number_word(good_sessions)} good sessions in a row, "
        f"so today we go up to {level.reps} repetitions."
    )


def gentle_announcement(level: Level, routine: Routine) -> str | None:
    """Said before the first step when the last answer was "it hurt": the gentler option (the routine's
    `feedback.gentle`, its placeholders filled in)."""
    if not level.gentle:
        return None
    gentle = routine.feedback.gentle if routine.feedback else DEFAULT_GENTLE
    gentler = gentle.format_map(scope_of(routine, level.reps))
    return f"Last time it hurt, so today we go gently, with {level.reps} repetitions. {gentler}"


def advice(level: Level) -> str | None:
    """What to show beside the routine while the next run is the gentler one."""
    return SHOWN_ADVICE if level.gentle else None


def answer_hint(button: str, answers: Mapping[str, Feedback]) -> str | None:
    """How the button that started the run answers the question, from its gestures (`action: answer`):
    "With the massage button, press on if it felt good, off if it was too much." None without any."""
    parts = []
    for feedback, words in _ANSWER_WORDS.items():
        actions = [action.replace("_", " ") for action, answer in answers.items() if answer is feedback]
        if actions:
            parts.append(f"{' or '.join(actions)} {words}")
    if not parts:
        return None
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])}, or {parts[-1]}"
    return f"With the {button} button, press {listed}."


def feedback_reply(answer: Feedback | None, after: Level, start_reps: int) -> str | None:
    """The reply to the end-of-run question, knowing the level the next run will use."""
    if answer is Feedback.HURT:
        return f"I am sorry it hurt. Next time we go back to {start_reps} repetitions, gently. {REST_ADVICE}"
    if answer is Feedback.TOO_MUCH:
        return f"Thank you. Next time we go back to {start_reps} repetitions. Take a rest day tomorrow."
    if answer is Feedback.GOOD:
        if after.went_up:
            return f"Thank you. Next time we go up to {after.reps} repetitions."
        return "Thank you. Well done."
    return None
