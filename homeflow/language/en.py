"""English: what homeflow says in a routine with `language: en` (the default)."""

from __future__ import annotations

from homeflow.language import Phrases

_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    " seventeen eighteen nineteen twenty"
).split()


def number(n: int) -> str:
    """The word up to twenty, digits after (a voice reads "21" as a number)."""
    return _WORDS[n] if 0 <= n < len(_WORDS) else str(n)


PHRASES = Phrases(
    code="en",
    name="English",
    voice="en-us",
    number=number,
    lowercase_names=True,
    count="{n}.",
    once="once",
    twice="twice",
    times="{n} times",
    paused="Paused. Press again to go on.",
    resuming="Resuming.",
    continuing="Continuing with: {step}.",
    cancelled="Stopping here. Your lights are coming back.",
    rest_advice="Rest, and if the pain persists, see a doctor or a physiotherapist.",
    shown_advice="It hurt last time. {rest_advice}",
    answer_good="if it felt good",
    answer_too_much="if it was too much",
    answer_hurt="if it hurt",
    hint="With the {button} button, {listed}.",
    hint_part="{actions} {answer}",
    hint_or=" or ",
    hint_last=", or ",
    too_often="You have done the {routine} {times} today. Rest now: too much irritates the tissue.",
    too_soon="Your last {routine} was a short while ago. Give {focus} {minutes} of rest.",
    minute="{n} more minute",
    minutes="{n} more minutes",
    focus="yourself",
    light_in_use="The {light} light is in use by {routine}. Start again when it is over.",
    level_up="You had {n} good sessions in a row, so today we go up to {reps} repetitions.",
    gentle="Last time it hurt, so today we go gently, with {reps} repetitions. {gentler}",
    question="How did that feel?",
    gentle_default="Use a light touch today, and stop at once if anything hurts.",
    reply_hurt="I am sorry it hurt. Next time we go back to {start} repetitions, gently. {rest_advice}",
    reply_too_much="Thank you. Next time we go back to {start} repetitions. Take a rest day tomorrow.",
    reply_up="Thank you. Next time we go up to {reps} repetitions.",
    reply_good="Thank you. Well done.",
    # the "it hurt" path
    press_action="press {action}",
    press_single="press once",
    press_double="press twice",
    press_triple="press three times",
    press_hold="hold it down",
    answer_elsewhere="Answer on the dashboard or in Home Assistant: felt good, too much, or it hurt.",
    cancel_question="Did it hurt?",
    cancel_elsewhere="If it did, choose It hurt on the dashboard or in Home Assistant.",
    rest_after_hurt="It hurt last time. Give {focus} {wait} of rest before the next {routine}.",
    hour="{n} more hour",
    hours="{n} more hours",
)
