"""Warnings about voices: one voice written for a speaker that plays routines of several languages
reads every one of them (German by an English voice), so `homeflow check` says where."""

from __future__ import annotations

from homeflow.language import phrases
from homeflow.settings.model import CastSpeaker, HomeAssistantSpeaker, LocalSpeaker, Settings, SonosSpeaker
from homeflow.settings.problems import child, quote

_KINDS: dict[type, str] = {LocalSpeaker: "local", SonosSpeaker: "sonos", CastSpeaker: "cast"}


def voice_warnings(settings: Settings) -> list[str]:
    """`FILE:LINE:COL: warning: speakers.X.KIND.voice: …` for each speaker whose one written voice
    speaks routines of two or more languages."""
    languages: dict[str, dict[str, list[str]]] = {}  # speaker -> language -> routine ids
    for automation in settings.automations:
        routine = settings.routines.get(automation.routine)
        if routine is None:
            continue
        for name in automation.speakers:
            ids = languages.setdefault(name, {}).setdefault(routine.language, [])
            if routine.id not in ids:
                ids.append(routine.id)
    warnings = []
    for name, by_language in languages.items():
        spec = settings.speakers.get(name)
        # Home Assistant's TTS speaks each routine's language itself; its `voice` only times the plan.
        if spec is None or isinstance(spec, HomeAssistantSpeaker) or not spec.voice_given:
            continue
        if len(by_language) < 2:
            continue
        path = child(child(child("speakers", name), _KINDS[type(spec)]), "voice")
        routines = "; ".join(f"{code}: {', '.join(ids)}" for code, ids in by_language.items())
        example = ", ".join(f"{code}: {phrases(code).voice}" for code in by_language)
        warnings.append(
            f"{spec.voice_at}: warning: {path}: one voice {quote(spec.voice)} reads routines of "
            f"{len(by_language)} languages ({routines}); give one per language: voice: {{{example}}}"
        )
    return warnings
