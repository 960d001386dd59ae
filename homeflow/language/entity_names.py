"""What Home Assistant calls a routine's entities, in the routine's language: one table per language.
Each field is named by the entity's key (`<routine>_<key>` in its unique id); `profile_*` are templates
of one person's entities, `{who}` being the profile's name."""

from __future__ import annotations

from dataclasses import dataclass, fields

from homeflow.language import DEFAULT


@dataclass(frozen=True, slots=True)
class EntityNames:
    """One language's names of a routine's device and entities."""

    model: str  # the device's model, shown under its name
    start: str
    pause: str
    resume: str
    skip: str
    cancel: str
    good: str
    too_much: str
    hurt: str
    schedules: str
    next_reps: str
    state: str
    step: str
    progress: str
    last_completed: str
    streak: str
    reps: str
    refused: str
    run: str
    days: str  # the streak's unit
    profile_start: str
    profile_last_completed: str
    profile_streak: str
    profile_reps: str

    def __post_init__(self) -> None:
        for field in fields(self):
            if not getattr(self, field.name).strip():
                raise ValueError(f"entity name {field.name} is empty")

    def name(self, key: str) -> str:
        """The name of the entity with `key` (a field of this table)."""
        text: str = getattr(self, key)
        return text


ENTITY_NAMES = {
    "en": EntityNames(
        model="Guided routine",
        start="Start",
        pause="Pause",
        resume="Resume",
        skip="Skip step",
        cancel="Cancel",
        good="Felt good",
        too_much="Too much",
        hurt="It hurt",
        schedules="Schedules",
        next_reps="Next run repetitions",
        state="State",
        step="Current step",
        progress="Progress",
        last_completed="Last completed",
        streak="Streak",
        reps="Repetitions",
        refused="Last refused start",
        run="Run",
        days="days",
        profile_start="{who} start",
        profile_last_completed="{who} last completed",
        profile_streak="{who} streak",
        profile_reps="{who} repetitions",
    ),
    "de": EntityNames(
        model="Geführte Routine",
        start="Starten",
        pause="Pausieren",
        resume="Fortsetzen",
        skip="Schritt überspringen",
        cancel="Abbrechen",
        good="Hat gutgetan",
        too_much="Zu viel",
        hurt="Hat wehgetan",
        schedules="Zeitpläne",
        next_reps="Wiederholungen beim nächsten Mal",
        state="Zustand",
        step="Aktueller Schritt",
        progress="Fortschritt",
        last_completed="Zuletzt abgeschlossen",
        streak="Serie",
        reps="Wiederholungen",
        refused="Zuletzt abgelehnter Start",
        run="Durchgang",
        days="Tage",
        profile_start="{who} starten",
        profile_last_completed="{who} zuletzt abgeschlossen",
        profile_streak="{who} Serie",
        profile_reps="{who} Wiederholungen",
    ),
}


def entity_names(code: str) -> EntityNames:
    """The names for a routine in language `code`; English for a language without a table yet."""
    return ENTITY_NAMES.get(code) or ENTITY_NAMES[DEFAULT]
