"""Speakers, one module per protocol; and giving them back as they were once a run is over."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import tzinfo

from homeflow.clock import Clock
from homeflow.devices.base import ClosingSpeaker, RestoringSpeaker, Speaker, restore_each
from homeflow.devices.speakers.clips import ClipServer
from homeflow.settings.model import (
    CastSpeaker,
    HomeAssistantSettings,
    HomeAssistantSpeaker,
    SonosSpeaker,
    SpeakerSettings,
)
from homeflow.speech import is_piper_voice, piper_problem

log = logging.getLogger(__name__)


async def restore_speakers(speakers: Iterable[Speaker]) -> None:
    """Restore every speaker that changed something to announce; bounded, and failures are one line each."""
    restoring = [s for s in speakers if isinstance(s, RestoringSpeaker)]
    await restore_each(restoring, lambda speaker: speaker.restore(), "speaker")


async def close_speakers(speakers: Iterable[Speaker]) -> None:
    """Close every speaker that holds something (a player process), all at once; a failure is one line."""
    closing = [s for s in speakers if isinstance(s, ClosingSpeaker)]
    results = await asyncio.gather(*(s.aclose() for s in closing), return_exceptions=True)
    for speaker, result in zip(closing, results, strict=True):
        if isinstance(result, Exception):
            log.warning("speaker %s not closed: %s", speaker.name, result)


def build_speaker(
    spec: SpeakerSettings,
    server: ClipServer,
    clock: Clock,
    home_assistant: HomeAssistantSettings,
    tz: tzinfo | None = None,
) -> Speaker:
    """The device for one speaker's settings."""
    # Imported here: each module pulls in its protocol's client, and this package's restore is light.
    from homeflow.devices.speakers.cast import CastSpeakerDevice  # noqa: PLC0415
    from homeflow.devices.speakers.home_assistant import HomeAssistantSpeakerDevice  # noqa: PLC0415
    from homeflow.devices.speakers.local import LocalSpeakerDevice  # noqa: PLC0415
    from homeflow.devices.speakers.sonos import SonosSpeakerDevice  # noqa: PLC0415
    from homeflow.homeassistant.api import HomeAssistantApi  # noqa: PLC0415

    if isinstance(spec, HomeAssistantSpeaker):
        return HomeAssistantSpeakerDevice(spec, HomeAssistantApi.of(home_assistant), server.cache, clock, tz)
    if isinstance(spec, SonosSpeaker):
        return SonosSpeakerDevice(spec, server, clock, tz)
    if isinstance(spec, CastSpeaker):
        return CastSpeakerDevice(spec, server, clock, tz)
    return LocalSpeakerDevice(spec, server.cache)


def library_problems(speakers: Iterable[SpeakerSettings]) -> list[str]:
    """What optional libraries the configured speakers need and this installation lacks."""
    from homeflow.devices.speakers import cast, sonos  # noqa: PLC0415

    speakers = list(speakers)
    kinds = {type(spec) for spec in speakers}
    checks = ((SonosSpeaker, sonos.library_problem), (CastSpeaker, cast.library_problem))
    problems = [problem for kind, check in checks if kind in kinds and (problem := check()) is not None]
    voices = [voice for spec in speakers for voice in (spec.voice, *dict(spec.voices).values())]
    if any(is_piper_voice(voice) for voice in voices) and (problem := piper_problem()):
        problems.append(problem)
    return problems
