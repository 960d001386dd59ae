"""Answers to the end-of-run question, from every surface (a button, MQTT, the web, Home Assistant):
to the open question, or, once the question is closed, late to the routine's last completed run, once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from homeflow.commands import WHILE_ASKING, Command
from homeflow.house import House, Room
from homeflow.journal import Journal, JournalError, RunRecord, RunStatus
from homeflow.people import key, report_answer
from homeflow.routine.guidance import feedback_reply, said, stop_rules
from homeflow.routine.progression import Feedback, Level
from homeflow.run import Run

log = logging.getLogger(__name__)
# How far back a late answer may name its run: as far as the API lists runs.
MAX_RUNS = 1000


def answerable(
    journal: Journal, routine_id: str, feedback: Feedback, run_id: int | None = None
) -> RunRecord | None:
    """The run a late answer answers: `run_id` (one of the routine's last runs, from its History) if
    it is completed, or cancelled and the answer is "it hurt"; else the routine's last completed run,
    or for "it hurt" its last cancelled run if that is the later one (a person in pain cancels)."""
    if run_id is not None:
        found = next((r for r in journal.runs(routine_id, limit=MAX_RUNS) if r.id == run_id), None)
        takes = (
            (RunStatus.COMPLETED, RunStatus.CANCELLED)
            if feedback is Feedback.HURT
            else (RunStatus.COMPLETED,)
        )
        return found if found is not None and found.status in takes else None
    last = journal.last_completed(routine_id)
    if feedback is not Feedback.HURT:
        return last
    cancelled = journal.runs(routine_id, limit=1, status=RunStatus.CANCELLED)
    if cancelled and (last is None or cancelled[0].id > last.id):
        return cancelled[0]
    return last


class Answers:
    """Takes answers for the conductor. `levels` is the conductor's own map of each routine's next level,
    which a late answer recomputes; `speak(routine, text)` says a sentence outside a run."""

    def __init__(
        self,
        rooms: Mapping[str, Room],
        house: House,
        levels: dict[str, Level],
        speak: Callable[[str, str], None],
    ) -> None:
        self.rooms = rooms
        self.house = house
        self.levels = levels
        self.speak = speak

    def to_question(self, run: Run, command: Command) -> str:
        """Answer the open question of `run` (it applies the answer when its wait ends)."""
        feedback = WHILE_ASKING.get(command)
        if run.after_cancel and feedback is not Feedback.HURT:
            feedback = None  # "did it hurt?": any other word closes the question unanswered
        run.answer_with(feedback)
        return f"feedback: {feedback or 'none'}"

    def late(self, routine_id: str, feedback: Feedback, run: Run | None, run_id: int | None = None) -> str:
        """No question is open: `feedback` answers the routine's last completed run, or the run
        `run_id` names (`answerable`), if nothing answered it yet; the next level is found again from the
        journal, once, here, and the figures and the `answered` event go out."""
        if run is not None and run.answered:
            return "late feedback: this run was answered already"
        journal = self.house.journal
        try:
            last = answerable(journal, routine_id, feedback, run_id)
        except JournalError as exc:
            return f"late feedback not taken: {exc}"
        if last is None and run_id is not None:
            return f"late feedback: run {run_id} of {routine_id} cannot take {feedback}"
        if last is None:
            return "late feedback: no completed run to answer"
        if run is not None and run.run_id != last.id:
            return "late feedback: not now, a run is going (answer when it asks)"
        if last.feedback is not None:
            return f"late feedback: run {last.id} was answered already ({last.feedback})"
        room = self.rooms[routine_id]
        routine = room.routine
        try:
            journal.set_feedback(last.id, feedback)
        except JournalError as exc:
            return f"late feedback owed to the journal, level unchanged for now: {exc}"
        # The answered run's person: runs from before the routine had profiles are its first profile's.
        profile = last.profile if last.profile in room.profiles else room.first
        try:
            level = journal.next_level(routine_id, routine.reps, room.person(profile))
        except JournalError as exc:
            return f"late feedback journaled, level not recomputed: {exc}"
        self.levels[key(routine_id, profile)] = level
        if run is not None:
            run.level = level  # the run is past its question: it hands this level back when it ends
        report_answer(
            self.house, room, profile, level, feedback=feedback, run_id=last.id, trigger=last.trigger
        )
        if reply := feedback_reply(feedback, level, routine.reps.start, said(routine), stop_rules(routine)):
            self.speak(routine_id, reply)
        log.info("%s: run %d feedback %s (late)", routine_id, last.id, feedback)
        return f"late feedback {feedback} for run {last.id}: next run {level.reps} repetitions"
