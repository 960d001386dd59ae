"""When a routine's safety introduction is owed. Pure: the journal keeps what was heard.

The introduction is owed until its text has been heard to its end once, and again whenever that text
changes. "The routine changed" is judged by the safety text alone, by its fingerprint: a new tempo,
light or count is no reason to hear the same warnings again (said every time, they stop being heard),
while any change to what the person is warned about is said at the next run. A routine whose change
brings a new risk says so in its safety text, and so is heard again.
"""

from __future__ import annotations

import hashlib

from homeflow.routine.model import Routine
from homeflow.routine.plan import Conditions, sentences


def fingerprint(routine: Routine) -> str | None:
    """The fingerprint of the safety text `routine` says (None without one): SHA-256 of its sentences."""
    if not routine.safety:
        return None
    return hashlib.sha256("\n".join(routine.safety).encode()).hexdigest()


def owed(routine: Routine, heard: str | None) -> bool:
    """Whether the next run says the safety introduction, given the fingerprint last heard."""
    mine = fingerprint(routine)
    return mine is not None and mine != heard


def on_demand(routine: Routine) -> str | None:
    """The introduction as one text, said when asked for (the `safety` command): the safety text, then
    what a person's first run says that later runs do not (the back massage: which ball to take); None
    without either."""
    reps = routine.reps.start
    usual = set(sentences(routine, reps))
    first = [
        text for text in sentences(routine, reps, conditions=Conditions(first_run=True)) if text not in usual
    ]
    return " ".join((*routine.safety, *first)) or None
