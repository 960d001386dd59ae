"""What can be asked of a routine: the commands that steer it, and the answers to its end-of-run question."""

from __future__ import annotations

from enum import StrEnum

from homeflow.routine.progression import Feedback


class Command(StrEnum):
    START = "start"
    TOGGLE = "toggle"  # start when idle, else pause or resume
    PAUSE = "pause"
    RESUME = "resume"
    SKIP = "skip"
    CANCEL = "cancel"
    FORCE = "force"  # start even beyond the routine's limits (never from a button)
    SAFETY = "safety"  # say the routine's safety introduction now (while no run is active)
    GOOD = "good"  # the answers: to the open question, or late to the last completed run
    TOO_MUCH = "too_much"
    HURT = "hurt"


ANSWERS = {Command.GOOD: Feedback.GOOD, Command.TOO_MUCH: Feedback.TOO_MUCH, Command.HURT: Feedback.HURT}
# While the question is open a button's own gestures answer too: once (start, toggle) is "felt good",
# twice (skip) is "too much". Any other command closes the question unanswered.
WHILE_ASKING = {
    **ANSWERS,
    Command.TOGGLE: Feedback.GOOD,
    Command.START: Feedback.GOOD,
    Command.SKIP: Feedback.TOO_MUCH,
}
# A button's `cancel` gesture (the default `hold` and `long`) is "it hurt" while the question is open:
# what a person in pain does with the button. Only a button's: Home Assistant's Cancel is no answer.
BUTTON_WHILE_ASKING = {Command.CANCEL: Command.HURT}

# What a command for a routine gets from an instance of a cluster that does not own it.
OWNED_ELSEWHERE = "another homeflow instance owns this routine"
# What the web answers when it has passed a command on to the instance that owns the routine.
FORWARDED = "sent to the homeflow instance that owns this routine"
