"""`homeflow check --probe` against a real broker: who answers and who does not."""

from __future__ import annotations

from pathlib import Path

from homeflow.probe import probe
from homeflow.settings import load

from .fake_home_assistant import TOKEN, FakeHomeAssistant
from .harness import write_settings
from .mosquitto import Broker
from .z2m import SimulatedLight


async def test_probe_tells_which_devices_answer(tmp_path: Path, broker: Broker, prefix: str) -> None:
    config = write_settings(
        tmp_path,
        broker,
        prefix,
        "lights:\n  lamp: {zigbee2mqtt: Lamp}\n  ghost: {zigbee2mqtt: Ghost}\n  room: {virtual: {}}\n"
        "speakers:\n  here: {local: {player: 'true'}}\n  gone: {local: {player: no-such-player}}\n",
    )
    lamp = SimulatedLight(f"{prefix}/z2m", "Lamp", {"state": "ON", "brightness": 10})
    async with lamp.running(broker):
        answers = {(a.kind, a.name): a for a in await probe(load(config))}
    assert answers[("light", "lamp")].ok
    assert not answers[("light", "ghost")].ok
    assert "no state within 3 s of asking" in str(answers[("light", "ghost")])
    assert answers[("light", "room")].ok
    assert answers[("speaker", "here")].ok
    assert str(answers[("speaker", "gone")]) == "speaker gone: no answer (player 'no-such-player' not found)"


async def test_probe_fetches_what_speaks_for_a_home_assistant_speaker(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    """Home Assistant says 200 to `tts.speak` with a missing entity and plays nothing: the probe asks
    for the TTS entity (or the legacy engine's service) and the player, and names a missing one."""
    speakers = {
        "good": "{media_player: media_player.kitchen, tts: tts.piper}",
        "legacy": "{media_player: media_player.kitchen, tts: tts.picotts_say}",
        "no_entity": "{media_player: media_player.kitchen, tts: tts.google_translate_en_com}",
        "no_engine": "{media_player: media_player.kitchen, tts: tts.marytts_say}",
        "no_player": "{media_player: media_player.attic, tts: tts.piper}",
    }
    players = {"media_player.kitchen": {"state": "idle", "attributes": {}}}
    async with FakeHomeAssistant({}, players=players, legacy_engines=("picotts",)).running() as ha:
        config = write_settings(
            tmp_path,
            broker,
            prefix,
            "speakers:\n"
            + "".join(f"  {name}: {{home_assistant: {spec}}}\n" for name, spec in speakers.items()),
            home_assistant={"url": ha.url, "token": TOKEN},
        )
        answers = {a.name: a for a in await probe(load(config))}
    assert answers["good"].ok and answers["legacy"].ok
    assert str(answers["good"]).endswith("(media_player.kitchen is idle; tts.piper speaks)")
    assert "has no tts.google_translate_en_com (404): set tts to a TTS entity, or a legacy engine" in str(
        answers["no_entity"]
    )
    assert not answers["no_entity"].ok
    assert str(answers["no_engine"]).endswith(
        "(Home Assistant has no service tts.marytts_say (is the TTS platform set up?))"
    )
    assert not answers["no_player"].ok and "media_player.attic" in str(answers["no_player"])
