"""A `media_player` spoken to through Home Assistant's `tts.speak`, over its REST API.

Home Assistant renders the speech itself (with the `tts` entity), so homeflow cannot measure the clip
the player will play: each sentence is timed by homeflow's own espeak-ng render of the same text, an
estimate. `tts.speak` plays as an announcement (Home Assistant always asks the player to announce), so
players that can duck the music do; with `announce: false` the same TTS media goes through
`media_player.play_media` without announcing.

A legacy TTS engine (a platform with no `tts.*` entity: Amazon Polly, Microsoft, MaryTTS, VoiceRSS,
picoTTS, …) is named by its service, `tts: tts.<engine>_say`, and spoken to through it: Home Assistant
answers `tts.speak` to a missing entity with 200 and plays nothing, so the two are never guessed from
each other (`homeflow check --probe` says which one Home Assistant lacks).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import tzinfo
from typing import Any
from urllib.parse import urlencode

from homeflow.clock import Clock
from homeflow.devices.speakers.clips import NETWORK_GRACE_S, Clips, volume_now
from homeflow.errors import HomeAssistantError, SpeakerError
from homeflow.homeassistant.api import HomeAssistantApi
from homeflow.settings.model import HomeAssistantSpeaker
from homeflow.speech import SpeechCache

log = logging.getLogger(__name__)


LEGACY_SUFFIX = "_say"


def legacy_engine(tts: str) -> str | None:
    """The engine of a legacy TTS service (`tts.picotts_say` → `picotts`); None for a TTS entity."""
    name = tts.removeprefix("tts.")
    return name.removesuffix(LEGACY_SUFFIX) if name.endswith(LEGACY_SUFFIX) else None


def speak_call(settings: HomeAssistantSpeaker, text: str) -> tuple[str, str, dict[str, Any]]:
    """The service call that says `text`: `tts.speak`, a legacy engine's `tts.<engine>_say`, or
    `media_player.play_media` without announcing."""
    engine = legacy_engine(settings.tts)
    if settings.announce and engine is not None:
        said: dict[str, Any] = {"entity_id": settings.media_player, "message": text}
        if settings.language:
            said["language"] = settings.language
        if settings.options:
            said["options"] = dict(settings.options)
        return "tts", settings.tts.removeprefix("tts."), said
    if settings.announce:
        data: dict[str, Any] = {
            "entity_id": settings.tts,
            "media_player_entity_id": settings.media_player,
            "message": text,
        }
        if settings.language:
            data["language"] = settings.language
        if settings.options:
            data["options"] = dict(settings.options)
        return "tts", "speak", data
    # The TTS media source takes the message, language and options as its query, as tts.speak builds it.
    query: dict[str, Any] = {"message": text}
    if settings.language:
        query["language"] = settings.language
    query.update(
        {
            key: str(value).lower() if isinstance(value, bool) else value
            for key, value in settings.options.items()
        }
    )
    return (
        "media_player",
        "play_media",
        {
            "entity_id": settings.media_player,
            "media_content_id": f"media-source://tts/{engine or settings.tts}?{urlencode(query)}",
            "media_content_type": "music",
            "announce": False,
        },
    )


class HomeAssistantSpeakerDevice:
    """Says each sentence with one service call, then waits the sentence's length on the run's clock."""

    def __init__(
        self,
        settings: HomeAssistantSpeaker,
        api: HomeAssistantApi,
        cache: SpeechCache,
        clock: Clock,
        tz: tzinfo | None = None,
    ) -> None:
        self.name = settings.name
        self.say_grace_s = NETWORK_GRACE_S
        self._settings = settings
        self._api = api
        self._clips = Clips(cache, settings.voice, settings.rate_wpm, settings.lead_in_s)
        self._clock = clock
        self._tz = tz
        self._volume_before: float | None = None
        self._volume_set: float | None = None

    async def prepare(self, texts: Iterable[str]) -> Mapping[str, float]:
        return await self._clips.prepare(texts)

    async def say(self, text: str) -> None:
        clip = await self._clips.get(text)
        await self._set_volume()
        started = self._clock.now()
        domain, service, data = speak_call(self._settings, text)
        log.info("say on %s: %s", self.name, text)
        try:
            await self._api.call(domain, service, data)
        except HomeAssistantError as exc:
            raise SpeakerError(str(exc)) from None
        await self._clock.sleep_until(started + clip.duration_s)

    async def check(self) -> None:
        """Home Assistant answers and knows the player."""
        try:
            await self._api.state(self._settings.media_player)
        except HomeAssistantError as exc:
            raise SpeakerError(str(exc)) from None

    async def restore(self) -> None:
        """Give the player its volume from before the first announcement."""
        before, self._volume_before, self._volume_set = self._volume_before, None, None
        if before is not None:
            await self._call_volume(before)

    async def _set_volume(self) -> None:
        volume = volume_now(self._settings, self._tz)
        if volume is None or volume == self._volume_set:
            return
        if self._volume_set is None:
            try:
                state = await self._api.state(self._settings.media_player)
            except HomeAssistantError as exc:
                raise SpeakerError(str(exc)) from None
            level = (state.get("attributes") or {}).get("volume_level")
            # A player that is off has no volume_level: nothing to give back later.
            self._volume_before = float(level) if isinstance(level, int | float) else None
        await self._call_volume(volume)
        self._volume_set = volume

    async def _call_volume(self, volume: float) -> None:
        data = {"entity_id": self._settings.media_player, "volume_level": volume}
        try:
            await self._api.call("media_player", "volume_set", data)
        except HomeAssistantError as exc:
            raise SpeakerError(str(exc)) from None
