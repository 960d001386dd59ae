"""The `home_assistant` speaker: tts.speak through a fake Home Assistant on loopback, in real runs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from homeflow.clock import FakeClock
from homeflow.devices.speakers.home_assistant import HomeAssistantSpeakerDevice
from homeflow.homeassistant.api import HomeAssistantApi
from homeflow.journal import open_journal
from homeflow.settings import SettingsError, load
from homeflow.settings.model import HomeAssistantSpeaker, QuietHours
from homeflow.speech import SpeechCache

from .fake_home_assistant import TOKEN, Call, FakeHomeAssistant
from .harness import collecting, serving, write_settings
from .mosquitto import Broker

TIME_SCALE = 10
# Three sentences back to back, then a pause: each one's start is the end of the one before.
SPOKEN = """\
name: Spoken
steps:
  - title: Begin
    do:
      - say: Stand with your back to the wall.
      - say: Place the ball under your shoulder.
      - say: Breathe in.
      - wait: {seconds: 2}
"""
SENTENCES = ["Stand with your back to the wall.", "Place the ball under your shoulder.", "Breathe in."]
KITCHEN = {"state": "playing", "attributes": {"volume_level": 0.25, "friendly_name": "Kitchen"}}


def speaker_settings(speaker: str) -> str:
    return f"speakers:\n  kitchen: {speaker}\nautomations: [{{routine: spoken, speakers: [kitchen]}}]\n"


async def run_spoken(config: Path, broker: Broker, prefix: str) -> None:
    base = f"{prefix}/hf"
    async with (
        collecting(broker, f"{prefix}-watch", f"{base}/#") as watch,
        serving(config, watch, base, time_scale=TIME_SCALE),
    ):
        await watch.client.publish(f"{base}/spoken/set", "start", qos=1)
        end = await watch.wait_for(f"{base}/spoken/event", lambda m: m.json["event"] != "started")
        assert end.json["event"] == "completed"
        await watch.wait_for(
            f"{base}/spoken/state", lambda m: m.json["state"] == "idle", since=watch.messages.index(end)
        )


async def test_each_announcement_is_one_tts_speak_in_order_spaced_by_the_clips(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    ha = FakeHomeAssistant({}, players={"media_player.kitchen": _copy(KITCHEN)})
    async with ha.running():
        speaker = "{home_assistant: {media_player: media_player.kitchen, tts: tts.piper, volume: 0.4}}"
        config = write_settings(
            tmp_path,
            broker,
            prefix,
            speaker_settings(speaker),
            {"spoken": SPOKEN},
            home_assistant={"discovery": False, "url": ha.url, "token": TOKEN},
        )
        await run_spoken(config, broker, prefix)

    assert set(ha.tokens) == {f"Bearer {TOKEN}"}
    speak = [
        Call(
            "tts.speak",
            {"entity_id": "tts.piper", "media_player_entity_id": "media_player.kitchen", "message": s},
        )
        for s in SENTENCES
    ]
    assert ha.reads == ["media_player.kitchen"]  # the volume to give back, read once
    assert ha.calls == [
        Call("media_player.volume_set", {"entity_id": "media_player.kitchen", "volume_level": 0.4}),
        *speak,
        Call("media_player.volume_set", {"entity_id": "media_player.kitchen", "volume_level": 0.25}),
    ]
    assert ha.players["media_player.kitchen"]["attributes"]["volume_level"] == 0.25

    # Spaced by the clip lengths: homeflow's own render of each sentence times the next one.
    cache = SpeechCache(tmp_path / "cache")
    lengths = [(await cache.render(s, "en-us", 150, 0.0)).duration_s for s in SENTENCES]
    with open_journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        planned = [c["planned_at"] for c in journal.cues(run.id) if c["kind"] == "say"]
    assert [b - a for a, b in itertools.pairwise(planned)] == pytest.approx(lengths[:2], abs=1e-6)
    arrived = [c.at for c in ha.calls if c.service == "tts.speak"]
    for gap, length in zip([b - a for a, b in itertools.pairwise(arrived)], lengths, strict=False):
        # Never before the previous sentence is over; the run's absolute deadlines keep it from drifting.
        assert length / TIME_SCALE - 0.01 <= gap <= length / TIME_SCALE + 0.5


async def test_announce_false_plays_the_tts_media_without_announcing(tmp_path: Path) -> None:
    ha = FakeHomeAssistant({}, players={"media_player.kitchen": _copy(KITCHEN)})
    settings = HomeAssistantSpeaker(
        "kitchen",
        "media_player.kitchen",
        "tts.piper",
        announce=False,
        language="en",
        options={"voice": "joe"},
    )
    async with ha.running():
        device = HomeAssistantSpeakerDevice(
            settings, HomeAssistantApi(ha.url, TOKEN), SpeechCache(tmp_path), FakeClock()
        )
        await device.prepare(["Breathe in."])
        await device.say("Breathe in.")
        await device.restore()  # no volume was set: nothing to give back
    assert ha.calls == [
        Call(
            "media_player.play_media",
            {
                "entity_id": "media_player.kitchen",
                "media_content_id": "media-source://tts/tts.piper?message=Breathe+in.&language=en&voice=joe",
                "media_content_type": "music",
                "announce": False,
            },
        )
    ]


async def test_quiet_hours_lower_the_volume_and_language_and_options_go_along(tmp_path: Path) -> None:
    ha = FakeHomeAssistant({}, players={"media_player.kitchen": _copy(KITCHEN)})
    now = datetime.now(UTC)
    quiet = QuietHours((now - timedelta(hours=1)).time(), (now + timedelta(hours=1)).time(), 0.1)
    settings = HomeAssistantSpeaker(
        "kitchen",
        "media_player.kitchen",
        "tts.piper",
        language="en",
        options={"voice": "joe"},
        volume=0.6,
        quiet_hours=quiet,
    )
    clock = FakeClock()
    async with ha.running():
        device = HomeAssistantSpeakerDevice(
            settings, HomeAssistantApi(ha.url, TOKEN), SpeechCache(tmp_path), clock, UTC
        )
        lengths = await device.prepare(["Breathe in.", "Breathe out."])
        await device.say("Breathe in.")
        await device.say("Breathe out.")
        await device.restore()
    assert [(c.service, c.data.get("volume_level")) for c in ha.calls] == [
        ("media_player.volume_set", 0.1),  # quiet hours, not `volume`
        ("tts.speak", None),
        ("tts.speak", None),
        ("media_player.volume_set", 0.25),
    ]
    assert ha.calls[1].data == {
        "entity_id": "tts.piper",
        "media_player_entity_id": "media_player.kitchen",
        "message": "Breathe in.",
        "language": "en",
        "options": {"voice": "joe"},
    }
    # `say` returns once the sentence is spoken, by the run's clock.
    assert clock.now() == pytest.approx(lengths["Breathe in."] + lengths["Breathe out."])


async def test_a_failing_home_assistant_is_one_line_naming_the_speaker(tmp_path: Path) -> None:
    ha = FakeHomeAssistant({}, players={"media_player.kitchen": _copy(KITCHEN)}, tts_entities=())
    async with ha.running():
        device = HomeAssistantSpeakerDevice(
            HomeAssistantSpeaker("kitchen", "media_player.kitchen", "tts.picotts_say"),
            HomeAssistantApi(ha.url, TOKEN),
            SpeechCache(tmp_path),
            FakeClock(),
        )
        with pytest.raises(
            Exception, match=r"tts\.picotts_say failed with 400: Service tts\.picotts_say not found"
        ) as caught:
            await device.say("Breathe in.")
    assert "\n" not in str(caught.value)


def test_a_home_assistant_speaker_needs_the_rest_api_and_entity_ids(tmp_path: Path) -> None:
    (tmp_path / "homeflow.yaml").write_text(
        "speakers:\n"
        "  kitchen: {home_assistant: {media_player: kitchen, tts: tts.piper, volume: 1.5}}\n"
        "  hall:\n"
        "    home_assistant:\n"
        "      media_player: media_player.hall\n"
        "      quiet_hours: {from: '21:00', to: '25:00', volume: 0.2}\n"
    )
    with pytest.raises(SettingsError) as caught:
        load(tmp_path / "homeflow.yaml")
    needs_api = "a Home Assistant speaker needs home_assistant.url and home_assistant.token (its REST API)"
    assert [str(p).split("homeflow.yaml:", 1)[1] for p in caught.value.problems] == [
        f"2:29: speakers.kitchen.home_assistant: {needs_api}",
        "2:44: speakers.kitchen.home_assistant.media_player: "
        'expected an entity id like media_player.kitchen, got "kitchen"',
        "2:77: speakers.kitchen.home_assistant.volume: a volume goes from 0 to 1 (0.4 is 40 %), got 1.5",
        "5:7: speakers.hall.home_assistant.tts: missing (required)",
        f"5:7: speakers.hall.home_assistant: {needs_api}",
        '6:40: speakers.hall.home_assistant.quiet_hours.to: expected a time of day like "21:30", got "25:00"',
    ]


def _copy(entity: dict[str, Any]) -> dict[str, Any]:
    return {"state": entity["state"], "attributes": dict(entity["attributes"])}


async def test_a_legacy_engine_speaks_through_its_say_service(tmp_path: Path) -> None:
    """No tts.* entity (picoTTS, Polly, MaryTTS, …): `tts.<engine>_say` with the player as entity_id."""
    players = {"media_player.kitchen": _copy(KITCHEN)}
    ha = FakeHomeAssistant({}, players=players, tts_entities=(), legacy_engines=("picotts",))
    async with ha.running():
        spoken = HomeAssistantSpeaker("kitchen", "media_player.kitchen", "tts.picotts_say", language="en-GB")
        device = HomeAssistantSpeakerDevice(
            spoken, HomeAssistantApi(ha.url, TOKEN), SpeechCache(tmp_path), FakeClock()
        )
        await device.say("Breathe in.")
        quiet = HomeAssistantSpeaker("kitchen", "media_player.kitchen", "tts.picotts_say", announce=False)
        device = HomeAssistantSpeakerDevice(
            quiet, HomeAssistantApi(ha.url, TOKEN), SpeechCache(tmp_path), FakeClock()
        )
        await device.say("Breathe out.")
    assert ha.calls[0] == Call(
        "tts.picotts_say",
        {"entity_id": "media_player.kitchen", "message": "Breathe in.", "language": "en-GB"},
    )
    assert ha.played == [("media_player.kitchen", "Breathe in.")]
    assert ha.calls[1].data["media_content_id"] == "media-source://tts/picotts?message=Breathe+out."
