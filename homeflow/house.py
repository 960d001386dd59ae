"""What a routine's runs stand on: its room (the routine with its lights, speakers, buttons and people)
and the house every run shares (clock, journal, status publisher, time zone)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo

from homeflow.clock import Clock
from homeflow.devices.base import Light, Speaker
from homeflow.journal import Journal, Person
from homeflow.routine.model import Routine
from homeflow.settings.model import Zigbee2MqttButton
from homeflow.status import Status


@dataclass(slots=True)
class Room:
    """A routine with the lights and speakers its automations give it."""

    routine: Routine
    lights: list[Light] = field(default_factory=list)
    speakers: list[Speaker] = field(default_factory=list)
    buttons: list[str] = field(default_factory=list)
    profiles: dict[str, str | None] = field(default_factory=dict)  # who does it, and their buttons
    # The settings of `buttons`, by name: how the question is answered here.
    keys: dict[str, Zigbee2MqttButton] = field(default_factory=dict)

    @property
    def first(self) -> str | None:
        """Whose a run is when nothing says: the first profile (None: the routine has no profiles)."""
        return next(iter(self.profiles), None)

    @property
    def people(self) -> list[str | None]:
        """Each person with a level of their own: the profiles, or the one implicit person (None)."""
        return list(self.profiles) or [None]

    def profile_of(self, button: str) -> str | None:
        """Whose run a press of `button` starts: the profile it is the button of, else the first."""
        return next((name for name, own in self.profiles.items() if own == button), self.first)

    def button_of(self, profile: str | None, trigger: str = "") -> Zigbee2MqttButton | None:
        """The button a person answers with: the one that started the run (`trigger` "button:NAME"),
        else the profile's own, else the room's first; None in a room without a button."""
        named = trigger.removeprefix("button:") if trigger.startswith("button:") else None
        own = self.profiles.get(profile) if profile is not None else None
        for name in (named, own, *self.buttons):
            if name is not None and name in self.keys:
                return self.keys[name]
        return None

    def person(self, profile: str | None) -> Person | None:
        """Whose runs the journal reads for `profile` (None: every run of the routine)."""
        return None if profile is None else Person(profile, first=profile == self.first)


@dataclass(frozen=True, slots=True)
class House:
    """What every run shares: the clock, the journal, the status publisher, and what "today" means."""

    clock: Clock
    journal: Journal
    status: Status
    tz: tzinfo | None = None
