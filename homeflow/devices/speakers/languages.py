"""A speaker in a routine's language: the voice its settings name for that language, else the one
voice they name, else the language's espeak-ng voice; and for Home Assistant's TTS the language itself
(without a `voice` option chosen for another language)."""

from __future__ import annotations

import dataclasses

from homeflow.language import Phrases
from homeflow.settings.model import HomeAssistantSpeaker, SpeakerSettings


def in_language(spec: SpeakerSettings, table: Phrases) -> SpeakerSettings:
    """`spec` as it speaks a routine in `table`'s language (unchanged for English on a default voice)."""
    voice = dict(spec.voices).get(table.code) or (spec.voice if spec.voice_given else table.voice)
    if voice != spec.voice:
        spec = dataclasses.replace(spec, voice=voice)
    if isinstance(spec, HomeAssistantSpeaker) and _asks_for_another(spec.language, table):
        # A TTS voice option was chosen for the other language: the TTS's own voice of this one speaks.
        options = {key: value for key, value in spec.options.items() if key != "voice"}
        spec = dataclasses.replace(spec, language=table.code, options=options)
    return spec


def _asks_for_another(language: str | None, table: Phrases) -> bool:
    """Whether a Home Assistant speaker's `language` is not the routine's: none set (the TTS's own
    default) suits English only; "de-CH" suits "de"."""
    if language is None:
        return table.code != "en"
    return language.lower().replace("_", "-").split("-")[0] != table.code
