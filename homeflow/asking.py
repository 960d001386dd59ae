"""How the end-of-run question is answered where it is asked: with a room's button (its gestures, in
words), or, in a room without one, from the dashboard or Home Assistant; and the short question after a
cancel."""

from __future__ import annotations

from homeflow.commands import ANSWERS, BUTTON_WHILE_ASKING, WHILE_ASKING, Command
from homeflow.house import Room
from homeflow.language import ENGLISH, Phrases
from homeflow.routine.guidance import answer_hint, said
from homeflow.routine.progression import Feedback
from homeflow.settings.model import Zigbee2MqttButton


def button_answers(button: Zigbee2MqttButton) -> dict[str, Feedback]:
    """What each of the button's actions answers: the gestures named as answers, or else its own
    gestures while the question is open (once "felt good", twice "too much", hold "it hurt")."""
    named = {action: ANSWERS[Command(word)] for action, word in button.gestures.items() if word in ANSWERS}
    if named:
        return named
    asking = {
        action: WHILE_ASKING.get(BUTTON_WHILE_ASKING.get(Command(word), Command(word)))
        for action, word in button.gestures.items()
    }
    return {action: answer for action, answer in asking.items() if answer is not None}


def button_hint(button: Zigbee2MqttButton, table: Phrases = ENGLISH) -> str | None:
    """How `button` answers the question, said after it; None when none of its gestures answers."""
    return answer_hint(button.name, button_answers(button), table)


def cancel_question(button: Zigbee2MqttButton | None, table: Phrases = ENGLISH) -> str:
    """Asked after a run was cancelled: did it hurt, and how to say so here (with the button's "it
    hurt" gesture, else from the dashboard or Home Assistant)."""
    hurts = {a: f for a, f in button_answers(button).items() if f is Feedback.HURT} if button else {}
    how = answer_hint(button.name, hurts, table) if button else None
    return f"{table.cancel_question} {how or table.cancel_elsewhere}"


def question_hint(room: Room, profile: str | None = None) -> str:
    """Said after the question when no button started the run: how the person's button (or the room's
    first) answers it, or, without a button, where to answer instead (never "press")."""
    table = said(room.routine)
    button = room.button_of(profile)
    hint = button_hint(button, table) if button else None
    return hint or table.answer_elsewhere
