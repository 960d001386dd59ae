"""The small interfaces the runner drives: lights and speakers, one module per protocol behind them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from homeflow.routine.model import Ambience

log = logging.getLogger(__name__)

# Giving devices back what they had is bounded, so a dead device never holds up a run's end or shutdown.
RESTORE_TIMEOUT_S = 5.0


class Named(Protocol):
    name: str


_D = TypeVar("_D", bound=Named)


async def restore_each(devices: Sequence[_D], restore: Callable[[_D], Awaitable[None]], kind: str) -> None:
    """`restore` every device at once, within RESTORE_TIMEOUT_S in all; a failure is one line each."""
    if not devices:
        return
    try:
        async with asyncio.timeout(RESTORE_TIMEOUT_S):
            results = await asyncio.gather(*(restore(d) for d in devices), return_exceptions=True)
    except TimeoutError:
        log.warning("%ss not restored within %g s", kind, RESTORE_TIMEOUT_S)
        return
    for device, result in zip(devices, results, strict=True):
        if isinstance(result, Exception):
            log.warning("%s %s not restored: %s", kind, device.name, result)


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


@runtime_checkable
class HoldingLight(Protocol):
    """A light that can hold a change back to send later (Zigbee2MQTT's latest command, while offline)."""

    def let_go(self) -> None:
        """Drop what is held back: another homeflow sets the light from here on."""
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


@runtime_checkable
class ClosingSpeaker(Protocol):
    """A speaker that holds something for as long as it is used (a local player process)."""

    async def aclose(self) -> None:
        """Let go of it; called once, when the service stops."""
        ...
