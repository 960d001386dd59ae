"""The small interfaces the runner drives: lights and speakers, one module per protocol behind them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from homeflow.routine.model import Ambience

# What a light looked like before a run, as JSON-able data so the journal can keep it across a crash.
LightSnapshot = dict[str, Any]


class Light(Protocol):
    name: str

    async def snapshot(self) -> LightSnapshot:
        """Return the light's current state, to give back to `restore` later."""
        ...

    async def apply(self, ambience: Ambience) -> None:
        """Set brightness and colour temperature with a transition."""
        ...

    async def restore(self, snapshot: LightSnapshot, transition_s: float) -> None:
        """Bring the light back to a snapshot."""
        ...


class Speaker(Protocol):
    name: str
    # Real seconds it may take beyond a sentence's length before it counts as failed: a network
    # speaker fetches the clip first, a local player starts at once.
    say_grace_s: float

    async def prepare(self, texts: Iterable[str]) -> Mapping[str, float]:
        """Render every sentence ahead of a run; return each one's spoken length in seconds."""
        ...

    async def say(self, text: str) -> None:
        """Speak a prepared sentence; returns when it has been spoken."""
        ...

    async def check(self) -> None:
        """Return if the speaker answers, cheaply (no sound); raise `SpeakerError` if it does not."""
        ...


@runtime_checkable
class RestoringSpeaker(Protocol):
    """A speaker that changes volume or playback to announce, and can give them back."""

    async def restore(self) -> None:
        """Give back what the speaker had before homeflow's first announcement since the last restore."""
        ...
