"""What homeflow itself says, one table per language: counts, paused and resuming, refusals, the
question, level changes, replies and advice. A routine names its language (`language: de`); every
sentence of its runs that the routine does not write itself comes from that language's table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Phrases:
    """One language's table. Every text field is a template whose `{placeholders}` are the same in
    every language (tests/test_languages.py checks it); `number` gives the word for a whole number."""

    code: str  # the routine's `language:`, and what a Home Assistant TTS is asked to speak
    name: str  # in English, for messages: "German"
    voice: str  # the espeak-ng voice, unless a speaker names its own
    number: Callable[[int], str]
    lowercase_names: bool  # "the back massage" in English; German nouns keep their capital
    count: str  # one number of a spoken count
    once: str
    twice: str
    times: str
    paused: str
    resuming: str
    continuing: str  # said first by a run another homeflow took over: the step it goes on with
    cancelled: str
    rest_advice: str
    shown_advice: str
    answer_good: str
    answer_too_much: str
    answer_hurt: str
    hint: str  # how the button that started the run answers the question
    hint_part: str  # one answer of it: "on if it felt good"
    hint_or: str  # joins two actions of one answer: "on or off"
    hint_last: str  # joins the last answer to the others: ", or "
    too_often: str
    too_soon: str
    minute: str
    minutes: str
    focus: str  # what a refusal asks to rest, unless the routine says (`focus:`)
    light_in_use: str
    level_up: str
    gentle: str
    question: str  # the end-of-run question, unless the routine asks its own
    gentle_default: str  # the gentler option after "it hurt", unless the routine names its own
    reply_hurt: str
    reply_too_much: str
    reply_up: str
    reply_good: str
    # the "it hurt" path
    press_action: str  # one gesture of a button, in the question: "press on"
    press_single: str  # the common gestures, said as a person does them
    press_double: str
    press_triple: str
    press_hold: str
    answer_elsewhere: str  # the question's answers in a room without a button
    cancel_question: str  # after a run was cancelled
    cancel_elsewhere: str  # how to say "it hurt" then, in a room without a button
    rest_after_hurt: str  # a start refused while the rest after "it hurt" lasts
    hour: str
    hours: str

    def counted(self, n: int) -> str:
        """One number of a spoken count: "Three." """
        word = self.number(n)
        return self.count.format(n=word[:1].upper() + word[1:])

    def how_often(self, n: int) -> str:
        """ "once", "twice", "three times"."""
        return {1: self.once, 2: self.twice}.get(n) or self.times.format(n=self.number(n))


def _tables() -> dict[str, Phrases]:
    from homeflow.language import de, en  # noqa: PLC0415 -- the tables import Phrases from here

    return {table.code: table for table in (en.PHRASES, de.PHRASES)}


LANGUAGES: dict[str, Phrases] = _tables()
DEFAULT = "en"
ENGLISH = LANGUAGES[DEFAULT]


def phrases(code: str) -> Phrases:
    """The table of a language code (checked when the routine was loaded)."""
    return LANGUAGES[code]


__all__ = ["DEFAULT", "ENGLISH", "LANGUAGES", "Phrases", "phrases"]
