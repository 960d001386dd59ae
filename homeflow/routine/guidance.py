"""What homeflow says around a routine: refusals, level changes, feedback replies, in the routine's
language (its table in homeflow.language). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from homeflow.language import ENGLISH, Phrases, phrases
from homeflow.routine.model import Routine
from homeflow.routine.plan import scope_of
from homeflow.routine.progression import Feedback, Level

# The English phrases, as other modules and tests name them.
PAUSED = ENGLISH.paused
RESUMING = ENGLISH.resuming
CANCELLED = ENGLISH.cancelled
REST_ADVICE = ENGLISH.rest_advice
SHOWN_ADVICE = ENGLISH.shown_advice.format(rest_advice=REST_ADVICE)
PHRASES = (PAUSED, RESUMING, CANCELLED)


def said(routine: Routine) -> Phrases:
    """The table of the routine's language."""
    return phrases(routine.language)


def around(routine: Routine) -> tuple[str, ...]:
    """What a run may say around its cues, whatever happens: paused, resuming, cancelled."""
    table = said(routine)
    return (table.paused, table.resuming, table.cancelled)


def _named(routine: Routine) -> str:
    return routine.name.lower() if said(routine).lowercase_names else routine.name


def continuing_with(step_title: str, table: Phrases = ENGLISH) -> str:
    """What a run another homeflow took over says first: the step it goes on with, from its start."""
    step = step_title.rstrip(".")
    return table.continuing.format(step=step[:1].lower() + step[1:] if table.lowercase_names else step)


def refusal(routine: Routine, completed_today: int, last_ended: datetime | None, now: datetime) -> str | None:
    """Why a run may not start now (one sentence to say), or None when it may."""
    limits, table = routine.limits, said(routine)
    if limits.max_per_day is not None and completed_today >= limits.max_per_day:
        return table.too_often.format(routine=_named(routine), times=table.how_often(completed_today))
    if last_ended is not None and limits.min_gap_s > 0:
        wait_s = limits.min_gap_s - (now - last_ended).total_seconds()
        if wait_s > 0:
            n = max(1, round(wait_s / 60))
            minutes = (table.minute if n == 1 else table.minutes).format(n=n)
            return table.too_soon.format(
                routine=_named(routine), focus=routine.focus or table.focus, minutes=minutes
            )
    return None


def light_in_use(light: str, routine_name: str, table: Phrases = ENGLISH) -> str:
    """Why a run may not start while another routine's run holds one of its lights."""
    return table.light_in_use.format(light=light, routine=routine_name)


def level_announcement(level: Level, good_sessions: int, table: Phrases = ENGLISH) -> str | None:
    """Said before the first step when the level has just gone up."""
    if not level.went_up:
        return None
    return table.level_up.format(n=table.number(good_sessions), reps=level.reps)


def gentle_announcement(level: Level, routine: Routine) -> str | None:
    """Said before the first step when the last answer was "it hurt": the gentler option (the routine's
    `feedback.gentle`, its placeholders filled in)."""
    if not level.gentle:
        return None
    table = said(routine)
    gentle = routine.feedback.gentle if routine.feedback else table.gentle_default
    gentler = gentle.format_map(scope_of(routine, level.reps))
    return table.gentle.format(reps=level.reps, gentler=gentler)


def advice(level: Level, table: Phrases = ENGLISH, stops: str = "") -> str | None:
    """What to show beside the routine while the next run is the gentler one: the advice to rest and
    `stops`, the routine's stop rules."""
    if not level.gentle:
        return None
    shown = table.shown_advice.format(rest_advice=table.rest_advice)
    return f"{shown} {stops}" if stops else shown


def gesture_words(action: str, table: Phrases = ENGLISH) -> str:
    """A button's action as a person does it: "press once", "hold it down", "press arrow left click"."""
    common = {
        "single": table.press_single,
        "double": table.press_double,
        "triple": table.press_triple,
        "hold": table.press_hold,
        "long": table.press_hold,
    }
    return common.get(action) or table.press_action.format(action=action.replace("_", " "))


def answer_hint(button: str, answers: Mapping[str, Feedback], table: Phrases = ENGLISH) -> str | None:
    """How a button answers the question, from the answers its actions give: "With the massage button,
    press once if it felt good, twice if it was too much, or hold it down if it hurt." None without
    any."""
    words = {
        Feedback.GOOD: table.answer_good,
        Feedback.TOO_MUCH: table.answer_too_much,
        Feedback.HURT: table.answer_hurt,
    }
    press = table.press_action.partition("{")[0]  # "press ": said once for answers in a row that press
    parts, pressing = [], False
    for feedback, meaning in words.items():
        # `hold` and `long` are one gesture in words: said once
        done = dict.fromkeys(gesture_words(a, table) for a, answer in answers.items() if answer is feedback)
        if not done:
            continue
        actions = []
        for action in done:
            actions.append(action.removeprefix(press) if pressing else action)
            pressing = action.startswith(press)
        parts.append(table.hint_part.format(actions=table.hint_or.join(actions), answer=meaning))
    if not parts:
        return None
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])}{table.hint_last}{parts[-1]}"
    return table.hint.format(button=button, listed=listed)


def stop_rules(routine: Routine) -> str:
    """The routine's stop rules (its `stop`) as one text: repeated after "it hurt". Empty without any."""
    return " ".join(routine.stop)


def rest_refusal(routine: Routine, wait_s: float) -> str:
    """Why a run may not start while the rest after "it hurt" lasts `wait_s` more."""
    table = said(routine)
    if wait_s >= 3600:
        hours = round(wait_s / 3600)
        wait = (table.hour if hours == 1 else table.hours).format(n=hours)
    else:
        n = max(1, round(wait_s / 60))
        wait = (table.minute if n == 1 else table.minutes).format(n=n)
    return table.rest_after_hurt.format(
        focus=routine.focus or table.focus, wait=wait, routine=_named(routine)
    )


def feedback_reply(
    answer: Feedback | None, after: Level, start_reps: int, table: Phrases = ENGLISH, stops: str = ""
) -> str | None:
    """The reply to the end-of-run question, knowing the level the next run will use; after "it hurt"
    it repeats `stops`, the routine's stop rules (`stop_rules`)."""
    if answer is Feedback.HURT:
        reply = table.reply_hurt.format(start=after.reps, rest_advice=table.rest_advice)
        return f"{reply} {stops}" if stops else reply
    if answer is Feedback.TOO_MUCH:
        return table.reply_too_much.format(start=start_reps)
    if answer is Feedback.GOOD:
        return table.reply_up.format(reps=after.reps) if after.went_up else table.reply_good
    return None
