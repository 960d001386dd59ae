"""Languages: one table of system phrases per language, complete and with the same placeholders; German
numbers; the German back massage plans, speaks and renders in German; refusals name the routine's focus;
a routine's `language:` is checked like its other keys."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from homeflow.addon import _unnamed
from homeflow.defaults import ROUTINES, load_settings
from homeflow.devices.lights.virtual import VirtualLight
from homeflow.devices.speakers.languages import in_language
from homeflow.devices.speakers.local import LocalSpeakerDevice
from homeflow.house import Room
from homeflow.language import ENGLISH, LANGUAGES, Phrases, de, phrases
from homeflow.planning import prepare_plan, replies
from homeflow.routine.guidance import answer_hint, light_in_use, refusal
from homeflow.routine.model import Limits
from homeflow.routine.plan import CueKind, Plan
from homeflow.routine.progression import Feedback, Level
from homeflow.run import Run
from homeflow.service import build_rooms, build_speakers
from homeflow.settings import load
from homeflow.settings.model import HomeAssistantSpeaker, LocalSpeaker, Settings
from homeflow.speech import SpeechCache, engine_problem
from homeflow.starts import lights_held
from homeflow.triggers.buttons import DUPLICATE_WINDOW_S

from .home import home
from .mosquitto import Broker
from .test_settings import problems, write

TEXTS = [
    f.name for f in dataclasses.fields(Phrases) if f.type == "str" and f.name not in ("code", "name", "voice")
]


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_language_has_every_phrase_with_the_same_placeholders() -> None:
    assert len(TEXTS) > 25 and "paused" in TEXTS and "number" not in TEXTS
    assert {"en", "de"} <= set(LANGUAGES)
    for code, table in LANGUAGES.items():
        assert table.code == code
        for name in TEXTS:
            text = getattr(table, name)
            assert isinstance(text, str) and text.strip(), (code, name)
            assert placeholders(text) == placeholders(getattr(ENGLISH, name)), (code, name, text)
        if table is not ENGLISH:  # a table copied from English by mistake says English
            same = {n for n in TEXTS if getattr(table, n) == getattr(ENGLISH, n)}
            assert same <= {"count"}, (code, same)  # "{n}." may well be the same


def test_german_number_words() -> None:
    reference = {
        1: "eins", 2: "zwei", 7: "sieben", 10: "zehn", 11: "elf", 12: "zwölf", 16: "sechzehn",
        17: "siebzehn", 20: "zwanzig", 21: "einundzwanzig", 30: "dreißig", 31: "einunddreißig",
        45: "fünfundvierzig", 66: "sechsundsechzig", 77: "siebenundsiebzig", 99: "neunundneunzig",
        100: "hundert",
    }  # fmt: skip
    assert {n: de.number(n) for n in reference} == reference
    words = [de.number(n) for n in range(1, 101)]
    assert len(set(words)) == 100 and all(w.isalpha() and w.islower() for w in words)
    assert phrases("de").counted(21) == "Einundzwanzig." and phrases("de").how_often(3) == "dreimal"
    assert ENGLISH.counted(3) == "Three." and ENGLISH.how_often(2) == "twice"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder that is also the working directory, so problems show short relative paths."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def bundled() -> Settings:
    return load_settings(ROUTINES.parent / "homeflow.yaml")


def german_plan(settings: Settings, level: Level, hint: str | None = None) -> Plan:
    return asyncio.run(prepare_plan(settings.routines["back-massage-de"], level, [], hint, safety=True))


ENGLISH_WORDS = re.compile(
    r"\b(the|and|you|your|with|of|to|is|it|press|again|times?|if|one|two|five|ten)\b", re.I
)
SHARED = {"Ball", "Massage"}  # words German and English share are fine; the test asks for none else


def spoken(plan: Plan) -> list[str]:
    return [
        c.text
        for c in plan.cues
        if c.kind in (CueKind.SAY, CueKind.SAFETY, CueKind.COUNT, CueKind.ASK) and c.text
    ]


def test_the_german_routine_says_german_throughout(bundled: Settings) -> None:
    routine = bundled.routines["back-massage-de"]
    assert routine.language == "de" and routine.name == "Rückenmassage mit dem Ball"
    english = bundled.routines["back-massage"]
    first = german_plan(
        bundled, Level(5, "start"), hint=answer_hint("Massage", {"on": Feedback.GOOD}, phrases("de"))
    )
    up = german_plan(bundled, Level(10, "up", went_up=True))
    gentle = german_plan(bundled, Level(5, "hurt", gentle=True))
    texts = [*spoken(first), *spoken(up), *spoken(gentle), *first.phrases, *up.phrases]
    assert len(spoken(first)) == len(
        spoken(asyncio.run(prepare_plan(english, Level(5, "start"), [], safety=True)))
    )
    german = phrases("de")
    assert german.paused in first.phrases and german.cancelled in first.phrases
    assert spoken(first)[-1].startswith("Wie hat sich dein Rücken angefühlt?")
    assert spoken(first)[-1].endswith("Mit dem Knopf Massage: drück on, wenn es gutgetan hat.")
    assert spoken(up)[len(routine.safety)] == (
        "Du hattest zwei gute Einheiten in Folge, darum steigern wir heute auf 10 Wiederholungen."
    )
    assert spoken(gentle)[len(routine.safety)].startswith("Letztes Mal hat es wehgetan")
    assert [t for t in spoken(first) if t.endswith(".") and t[:-1] in ("Eins", "Zwei", "Fünf")]
    assert "Zehn." in spoken(up) and "Ten." not in spoken(up)
    # Nothing of the English table, and no common English word (the shared ones aside).
    english_sentences = {
        s
        for name in TEXTS
        for s in re.split(
            r"(?<=[.?!])\s+",
            getattr(ENGLISH, name).format_map(dict.fromkeys(placeholders(getattr(ENGLISH, name)), "")),
        )
        if len(s.split()) > 1
    }
    assert not [t for t in texts for s in english_sentences if s.strip() in t]
    assert not [(t, ENGLISH_WORDS.findall(t)) for t in texts if ENGLISH_WORDS.search(t)]
    for reply in replies(routine, Level(5, "start")):
        assert reply.startswith("Danke") or reply.startswith("Es tut mir leid"), reply
    assert SHARED  # named for the reader: "Ball" and "Massage" are German too


def test_refusals_name_the_routine_and_its_focus(bundled: Settings) -> None:
    now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    limited = Limits(max_per_day=2, min_gap_s=600)
    english = dataclasses.replace(bundled.routines["back-massage"], limits=limited)
    german = dataclasses.replace(bundled.routines["back-massage-de"], limits=limited)
    assert refusal(english, 1, now - timedelta(minutes=5), now) == (
        "Your last back massage was a short while ago. Give your back 5 more minutes of rest."
    )
    assert refusal(german, 1, now - timedelta(minutes=9), now) == (
        "Deine letzte Einheit Rückenmassage mit dem Ball ist erst kurz her."
        " Gib deinem Rücken noch 1 Minute Ruhe."
    )
    assert refusal(german, 2, None, now) == (
        "Du hast die Einheit Rückenmassage mit dem Ball heute schon zweimal gemacht."
        " Ruh dich jetzt aus: zu viel reizt das Gewebe."
    )
    plain = dataclasses.replace(english, focus=None, name="Neck stretch")
    assert refusal(plain, 1, now - timedelta(minutes=5), now) == (
        "Your last neck stretch was a short while ago. Give yourself 5 more minutes of rest."
    )
    assert light_in_use("lamp", "Back massage", phrases("de")) == (
        "Das Licht lamp ist gerade bei der Einheit Back massage im Einsatz."
        " Starte noch einmal, wenn sie vorbei ist."
    )


def test_a_light_in_use_is_refused_in_the_starting_routines_language(bundled: Settings) -> None:
    lamp = VirtualLight("lamp")
    english = Room(bundled.routines["back-massage"], lights=[lamp])
    german = Room(bundled.routines["back-massage-de"], lights=[lamp])
    running = cast(Run, SimpleNamespace(room=english))
    assert lights_held(german, [running]) == (
        "Das Licht lamp ist gerade bei der Einheit Back massage im Einsatz."
        " Starte noch einmal, wenn sie vorbei ist."
    )
    assert lights_held(english, [cast(Run, SimpleNamespace(room=german))]) == (
        "The lamp light is in use by Rückenmassage mit dem Ball. Start again when it is over."
    )


async def test_speakers_take_the_voice_of_the_routines_language(bundled: Settings) -> None:
    rooms = build_rooms(bundled, {}, build_speakers(bundled))
    english, german = rooms["back-massage"].speakers[0], rooms["back-massage-de"].speakers[0]
    assert isinstance(english, LocalSpeakerDevice) and isinstance(german, LocalSpeakerDevice)
    assert english._settings.voice == "en-us" and german._settings.voice == "de"
    named = dataclasses.replace(bundled, speakers={"room": LocalSpeaker("room", "de+f3", voice_given=True)})
    assert (
        build_rooms(named, {}, build_speakers(named))["back-massage"].speakers[0]._settings.voice == "de+f3"
    )  # type: ignore[attr-defined]
    ha = HomeAssistantSpeaker("kitchen", "media_player.kitchen", "tts.piper")
    assert in_language(ha, ENGLISH) == ha
    assert in_language(ha, phrases("de")).language == "de"  # type: ignore[union-attr]
    assert in_language(dataclasses.replace(ha, language="de-CH"), phrases("de")).language == "de-CH"  # type: ignore[union-attr]
    british = dataclasses.replace(ha, language="en-GB", options={"voice": "en_GB-alba-medium", "x": 1})
    assert in_language(british, phrases("de")) == dataclasses.replace(
        ha, language="de", options={"x": 1}, voice="de"
    )
    assert in_language(british, ENGLISH) == british


@pytest.mark.skipif(engine_problem() is not None, reason="needs espeak-ng")
def test_the_german_routine_renders_with_the_german_voice(bundled: Settings, tmp_path: Path) -> None:
    cache = SpeechCache(tmp_path)
    german = LocalSpeakerDevice(LocalSpeaker("room", "de"), cache)
    plan = german_plan(bundled, Level(5, "start"))
    texts = plan.sentences()[:3]
    asyncio.run(german.prepare(texts))
    for text in texts:
        assert cache.path_for(text, "de", 150, 0.2).is_file()
        assert not cache.path_for(text, "en-us", 150, 0.2).exists()


def test_an_addon_button_without_a_routine_starts_the_back_massage_in_the_addons_language() -> None:
    bundled = ["back-massage", "back-massage-de"]
    assert _unnamed(bundled, None) == "back-massage" and _unnamed(bundled, "en-GB") == "back-massage"
    assert _unnamed(bundled, "de-DE") == "back-massage-de" and _unnamed(["stretch"], "de") == "stretch"
    assert _unnamed(["stretch", "yoga"], "de") is None


def test_a_routine_language_is_checked(here: Path) -> None:
    write(here, "routines/stretch.yaml", """\
        name: Stretch
        language: fr
        focus: ""
        steps: [{title: One, do: [say: Hi.]}]
        """)  # fmt: skip
    config = write(here, "homeflow.yaml", "routines: routines/\n")
    assert problems(config) == [
        'routines/stretch.yaml:2:11: language: unknown language "fr"; known: "en", "de"',
        "routines/stretch.yaml:3:8: focus: must not be empty",
    ]
    write(
        here,
        "routines/stretch.yaml",
        "name: Dehnen\nlanguage: de\nsteps: [{title: Eins, do: [say: Hallo.]}]\n",
    )
    routine = load(config).routines["stretch"]
    assert routine.language == "de" and routine.focus is None
    assert routine.feedback is None


def test_a_german_routine_asks_the_german_question_by_default(here: Path) -> None:
    write(
        here,
        "routines/stretch.yaml",
        "name: Dehnen\nlanguage: de\nfeedback: true\nsteps: [{title: Eins, do: [count: {to: 3}]}]\n",
    )
    routine = load(write(here, "homeflow.yaml", "routines: routines/\n")).routines["stretch"]
    assert routine.feedback is not None and routine.feedback.question == phrases("de").question
    assert routine.feedback.gentle == phrases("de").gentle_default
    plan = asyncio.run(prepare_plan(routine, Level(3, "start"), []))
    assert [c.text for c in plan.cues if c.kind is CueKind.COUNT] == ["Eins.", "Zwei.", "Drei."]
    assert plan.cues[-1].text == phrases("de").question


@pytest.mark.skipif(engine_problem() is not None, reason="needs espeak-ng")
async def test_a_german_run_through_a_broker_speaks_german_in_the_german_voice(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    edits = {"timeout: 30 ": "timeout: 600 ", "min_gap_minutes: 120": "min_gap_minutes: 0"}
    german_home = home(tmp_path, broker, prefix, speech_cache, edits=edits, routine="back-massage-de.yaml")
    async with german_home as h:
        state = h.topic("state")
        for awaited in ("running", "paused", "running"):  # start, pause, go on
            since = len(h.watch.messages)
            await h.press("single")
            await h.watch.wait_for(state, lambda m, s=awaited: m.json["state"] == s, since=since, within=30)
            h.clock.shift(DUPLICATE_WINDOW_S)
        await h.watch.wait_for(state, lambda m: m.json["state"] == "asking", since=since, within=30)
        since = len(h.watch.messages)
        await h.press("single")  # felt good
        await h.watch.wait_for(state, lambda m: m.json["state"] == "idle", since=since, within=30)
        said = [p["text"] for p in h.watch.payloads(h.topic("say"))]
    german = phrases("de")
    assert german.paused in said and german.resuming in said and german.reply_good in said
    assert said[0].startswith("Bevor du anfängst") and "Fünf." in said
    assert said[-2] == (
        "Wie hat sich dein Rücken angefühlt? Mit dem Knopf massage: drück einmal, wenn es gutgetan hat,"
        " zweimal, wenn es zu viel war, oder halte ihn gedrückt, wenn es wehgetan hat."
    )
    assert not [(t, ENGLISH_WORDS.findall(t)) for t in said if ENGLISH_WORDS.search(t)]
    played = (tmp_path / "played.log").read_text().split()
    cache = SpeechCache(speech_cache)
    for text in (said[0], "Fünf.", german.paused, german.reply_good):
        assert str(cache.path_for(text, "de", 150, 0.2)) in played, text
    assert str(cache.path_for("Fünf.", "en-us", 150, 0.2)) not in played


def test_a_speaker_names_a_voice_per_language(here: Path) -> None:
    (here / "voices").mkdir()
    for name in ("de_DE-thorsten-medium.onnx", "de_DE-thorsten-medium.onnx.json"):
        (here / "voices" / name).write_text("{}")
    config = write(here, "homeflow.yaml", """\
        speakers:
          desk: {local: {voice: {en: en-gb, de: voices/de_DE-thorsten-medium.onnx}}}
          hall: {local: {voice: {de: de+f3}}}
        """)  # fmt: skip
    speakers = load(config).speakers
    desk, hall = speakers["desk"], speakers["hall"]
    german = phrases("de")
    model = str(here / "voices" / "de_DE-thorsten-medium.onnx")
    assert (in_language(desk, ENGLISH).voice, in_language(desk, german).voice) == ("en-gb", model)
    assert (in_language(hall, ENGLISH).voice, in_language(hall, german).voice) == ("en-us", "de+f3")
    write(here, "homeflow.yaml", """\
        speakers:
          desk: {local: {voice: {fr: fr, de: voices/missing.onnx}}}
        """)  # fmt: skip
    assert problems(config) == [
        'homeflow.yaml:2:26: speakers.desk.local.voice.fr: unknown language "fr"; known: "en", "de"',
        'homeflow.yaml:2:38: speakers.desk.local.voice.de: no such Piper voice model: "voices/missing.onnx"',
    ]
