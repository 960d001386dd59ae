"""Every set-up speaks each routine with a voice of its language: the bundled settings, the repository's
config/homeflow.yaml (`scripts/run`) and `homeflow init`'s; `homeflow check` warns where one written
voice would read routines of two languages."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from homeflow.defaults import ROUTINES, init, load_settings
from homeflow.devices.speakers.local import LocalSpeakerDevice
from homeflow.service import build_rooms, build_speakers
from homeflow.settings import load
from homeflow.settings.voices import voice_warnings
from homeflow.speech import SpeechCache, engine_problem

from .conftest import REPO
from .test_defaults import homeflow
from .test_settings import write

needs_espeak = pytest.mark.skipif(engine_problem() is not None, reason="needs espeak-ng")


def phonemes(voice: str, text: str) -> str:
    """What espeak-ng makes of `text` in `voice`: "zwei" is [tsv'aI] in German, [zw'eI] in English."""
    said = subprocess.run(["espeak-ng", "-q", "-x", "-v", voice, text], capture_output=True, text=True)
    return said.stdout.strip()


def settings_of(setup: str, tmp_path: Path) -> Path:
    if setup == "bundled":
        return ROUTINES.parent / "homeflow.yaml"
    if setup == "scripts/run":
        return REPO / "config" / "homeflow.yaml"
    init(tmp_path / "mine")
    return tmp_path / "mine" / "homeflow.yaml"


@needs_espeak
@pytest.mark.parametrize("setup", ["bundled", "scripts/run", "homeflow init"])
async def test_the_german_routine_is_rendered_with_a_german_voice_in_every_setup(
    setup: str, tmp_path: Path
) -> None:
    settings = load_settings(settings_of(setup, tmp_path))
    settings = dataclasses.replace(settings, cache_dir=tmp_path / "cache")
    rooms = build_rooms(settings, {}, build_speakers(settings))
    german, english = rooms["back-massage-de"], rooms["back-massage"]
    lamps = [name for a in settings.automations if a.routine == "back-massage-de" for name in a.lights]
    assert german.speakers and lamps, setup  # it speaks, and a lamp dims
    cache = SpeechCache(tmp_path / "cache")
    for room, expected in ((german, "de"), (english, "en-us")):
        for speaker in room.speakers:
            assert isinstance(speaker, LocalSpeakerDevice)
            await speaker.prepare(["Zwei."])
            voice = speaker._settings.voice
            assert cache.path_for(
                "Zwei.", voice, speaker._settings.rate_wpm, speaker._settings.lead_in_s
            ).is_file()
            assert phonemes(voice, "zwei") == phonemes(expected, "zwei"), (setup, voice)
    assert phonemes("de", "zwei") != phonemes("en-us", "zwei")


def test_check_warns_of_one_voice_for_routines_of_two_languages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for routine in ROUTINES.glob("*.yaml"):
        write(tmp_path, f"routines/{routine.name}", routine.read_text(encoding="utf-8"))
    both = """\
        speakers:
          room:
            local:
              voice: en-us
          hall: {local: {voice: de}}
        routines: routines/
        automations:
          - {routine: back-massage, speakers: [room, hall]}
          - {routine: back-massage-de, speakers: [room]}
        """
    write(tmp_path, "homeflow.yaml", both)
    checked = homeflow("check", "-c", "homeflow.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    warnings = [line for line in checked.stderr.splitlines() if "voice" in line]
    assert warnings == [
        'homeflow.yaml:4:14: warning: speakers.room.local.voice: one voice "en-us" reads routines of 2 '
        "languages (en: back-massage; de: back-massage-de); give one per language: voice: {en: en-us, de: de}"
    ]
    write(tmp_path, "homeflow.yaml", both.replace("voice: en-us", "voice: {en: en-us, de: de}"))
    checked = homeflow("check", "-c", "homeflow.yaml", cwd=tmp_path)
    assert checked.returncode == 0 and "voice" not in checked.stderr, checked.stderr


@pytest.mark.parametrize("setup", ["bundled", "scripts/run", "homeflow init"])
def test_no_setup_the_readme_offers_warns_of_its_voices(setup: str, tmp_path: Path) -> None:
    checked = homeflow("check", "-c", str(settings_of(setup, tmp_path)), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "voice" not in checked.stderr, checked.stderr


def test_no_warning_for_a_home_assistant_speaker_whose_tts_speaks_each_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for routine in ROUTINES.glob("*.yaml"):
        write(tmp_path, f"routines/{routine.name}", routine.read_text(encoding="utf-8"))
    config = write(tmp_path, "homeflow.yaml", """\
        home_assistant: {url: "http://127.0.0.1:8123", token: abc.DEF-123}
        speakers:
          hall: {home_assistant: {media_player: media_player.hall, tts: tts.piper, voice: en-us}}
          desk: {local: {voice: en-us}}
        routines: routines/
        automations:
          - {routine: back-massage, speakers: [hall, desk]}
          - {routine: back-massage-de, speakers: [hall, desk]}
        """)  # fmt: skip
    assert [w.split(": warning: ")[1].split(":")[0] for w in voice_warnings(load(config))] == [
        "speakers.desk.local.voice"
    ]
