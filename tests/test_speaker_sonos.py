"""The `sonos` speaker through soco, against a fake Sonos answering soco's UPnP/SOAP calls on loopback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest

from homeflow.clock import FakeClock
from homeflow.devices.speakers.clips import ClipServer
from homeflow.devices.speakers.sonos import SonosSpeakerDevice
from homeflow.errors import SpeakerError
from homeflow.journal import RunStatus, open_journal
from homeflow.settings.model import SonosSpeaker
from homeflow.speech import SpeechCache

from .fake_sonos import FakeSonos
from .harness import Collector, collecting, recording_player, serving, write_settings
from .mosquitto import Broker

SPOKEN = """\
name: Spoken
steps:
  - title: Begin
    do:
      - say: Stand with your back to the wall.
      - wait: {seconds: 10}
      - say: Breathe in.
      - say: Breathe out.
"""
SENTENCES = ["Stand with your back to the wall.", "Breathe in.", "Breathe out."]
RADIO = FakeSonos().uri
# What soco's Snapshot reads: the household and group (is it a coordinator?), what plays, volume and EQ.
SNAPSHOT = [
    "GetHouseholdID",
    "GetZoneGroupState",
    "GetMediaInfo",
    "GetVolume",
    "GetMute",
    "GetBass",
    "GetTreble",
    "GetLoudness",
    "GetTransportInfo",
]
# Snapshot.restore: stop the clip, put the stream back, then EQ and volume, then play again.
RESTORE = [
    "GetTransportInfo",
    "Pause",
    "SetAVTransportURI",
    "SetMute",
    "SetBass",
    "SetTreble",
    "SetLoudness",
    "SetVolume",
    "Play",
]


def settings_body(speakers: str, names: str) -> str:
    return f"speakers:\n{speakers}automations: [{{routine: spoken, speakers: [{names}]}}]\n"


async def start_and_finish(watch: Collector, base: str) -> None:
    await watch.client.publish(f"{base}/spoken/set", "start", qos=1)
    end = await watch.wait_for(f"{base}/spoken/event", lambda m: m.json["event"] != "started")
    assert end.json["event"] == "completed"
    await watch.wait_for(
        f"{base}/spoken/state", lambda m: m.json["state"] == "idle", since=watch.messages.index(end)
    )


async def test_a_run_snapshots_sets_the_volume_plays_each_clip_and_restores(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    async with FakeSonos().running() as sonos:
        body = settings_body(f"  kitchen: {{sonos: {{host: {sonos.host}, volume: 0.3}}}}\n", "kitchen")
        config = write_settings(tmp_path, broker, prefix, body, {"spoken": SPOKEN})
        base = f"{prefix}/hf"
        async with collecting(broker, f"{prefix}-watch", f"{base}/#") as watch, serving(config, watch, base):
            await start_and_finish(watch, base)
            played = [a.args["CurrentURI"] for a in sonos.actions if a.name == "SetAVTransportURI"][:-1]
            # The player fetches what it was told to play from homeflow's own server, by ranges too.
            async with aiohttp.ClientSession() as http:
                for url in played:
                    async with http.get(url, headers={"Range": "bytes=0-99"}) as reply:
                        assert (reply.status, reply.content_type) == (206, "audio/mpeg")
                        local = tmp_path / "cache" / url.rsplit("/", 1)[1]
                        assert await reply.read() == local.read_bytes()[:100]

    announcing = ["SetVolume"] + ["SetAVTransportURI", "Play"] * len(SENTENCES)
    assert sonos.names() == SNAPSHOT + announcing + RESTORE
    assert sonos.actions[len(SNAPSHOT)].args["DesiredVolume"] == "30"
    cache = SpeechCache(tmp_path / "cache")
    clips = [cache.path_for(s, "en-us", 150, 0.5).with_suffix(".mp3").name for s in SENTENCES]
    assert [url.split("/audio/")[1] for url in played] == clips
    assert all(url.startswith("http://127.0.0.1:") for url in played)
    # Given back as found: the radio stream, its volume, playing.
    assert (sonos.uri, sonos.volume, sonos.state) == (RADIO, 25, "PLAYING")
    assert sonos.actions[-2].args["DesiredVolume"] == "25"


async def test_a_speaker_killed_mid_run_leaves_the_run_to_the_others_and_the_journal_says_so(
    tmp_path: Path, broker: Broker, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    player = recording_player(tmp_path)
    async with FakeSonos().running() as sonos:
        speakers = f"  kitchen: {{sonos: {{host: {sonos.host}}}}}\n  desk: {{local: {{player: {player}}}}}\n"
        config = write_settings(
            tmp_path, broker, prefix, settings_body(speakers, "kitchen, desk"), {"spoken": SPOKEN}
        )
        base = f"{prefix}/hf"
        async with collecting(broker, f"{prefix}-watch", f"{base}/#") as watch, serving(config, watch, base):
            await watch.client.publish(f"{base}/spoken/set", "start", qos=1)
            async with asyncio.timeout(10):
                await sonos.playing.wait()
            await sonos.stop()  # unplugged after its first sentence
            end = await watch.wait_for(f"{base}/spoken/event", lambda m: m.json["event"] != "started")
            assert end.json["event"] == "completed"
            await watch.wait_for(
                f"{base}/spoken/state", lambda m: m.json["state"] == "idle", since=watch.messages.index(end)
            )

    assert len((tmp_path / "played.log").read_text().split()) == len(SENTENCES)  # the other speaker said all
    with open_journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        assert run.status is RunStatus.COMPLETED
        cues = {c["index"]: c["text"] for c in journal.cues(run.id)}
        failures = journal.speaker_failures(run.id)
    assert [(cues[f["index"]], f["speaker"]) for f in failures] == [(s, "kitchen") for s in SENTENCES[1:]]
    # The first failure marks the speaker down; later sentences are skipped while a check finds it down.
    assert failures[0]["error"].startswith(f"Sonos at {sonos.host}: cannot connect")
    assert all(
        f["error"].startswith(f"speaker down: Sonos at {sonos.host}: cannot connect") for f in failures[1:]
    )
    warned = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "kitchen" in r.getMessage()
    ]
    assert warned[0].startswith(f"speaker kitchen failed: Sonos at {sonos.host}: cannot connect")
    assert sum("failed" in w for w in warned) == 1  # once per run, not once per cue
    assert any(w.startswith("speaker kitchen not restored") for w in warned)


async def test_a_missing_player_is_one_line_within_the_timeout(tmp_path: Path) -> None:
    async with FakeSonos().running() as sonos:
        host = sonos.host
    device = SonosSpeakerDevice(
        SonosSpeaker("kitchen", host), ClipServer(SpeechCache(tmp_path), "http://127.0.0.1:1"), FakeClock()
    )
    await device.prepare(["Breathe in."])
    with pytest.raises(SpeakerError) as caught:
        await device.say("Breathe in.")
    assert str(caught.value) == f"Sonos at {host}: cannot connect (is it on, is the address right?)"
    await device.restore()  # nothing was taken, so nothing to give back
