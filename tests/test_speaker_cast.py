"""The `cast` speaker through pychromecast, against a fake Cast speaker (CASTV2 over TLS) on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from homeflow.clock import FakeClock
from homeflow.devices.speakers import cast as cast_module
from homeflow.devices.speakers.cast import CastSpeakerDevice
from homeflow.devices.speakers.clips import ClipServer
from homeflow.errors import SpeakerError
from homeflow.settings.model import CastSpeaker
from homeflow.speech import SpeechCache

from .fake_cast import MEDIA, MEDIA_RECEIVER, RECEIVER, TRANSPORT, FakeCast
from .harness import collecting, serving, write_settings
from .mosquitto import Broker, free_port

SPOKEN = """\
name: Spoken
steps:
  - title: Begin
    do:
      - say: Stand with your back to the wall.
      - say: Breathe in.
"""
SENTENCES = ["Stand with your back to the wall.", "Breathe in."]


def commands(cast: FakeCast) -> list[dict[str, Any]]:
    """The receiver messages that read or change the speaker: its first status read, then every change.

    pychromecast asks for the status again on its own (after a launch, on a heartbeat), when it likes;
    those later reads change nothing, so they are left out.
    """
    first, *rest = cast.messages(RECEIVER)
    return [first, *(m for m in rest if m["type"] != "GET_STATUS")]


async def test_a_run_plays_each_clip_url_on_the_media_receiver_and_gives_the_volume_back(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    async with FakeCast(volume=0.5).running(tmp_path) as cast:
        body = (
            f"speakers: {{bedroom: {{cast: {{host: 127.0.0.1, port: {cast.port}, volume: 0.3}}}}}}\n"
            "automations: [{routine: spoken, speakers: [bedroom]}]\n"
        )
        config = write_settings(tmp_path, broker, prefix, body, {"spoken": SPOKEN})
        base = f"{prefix}/hf"
        async with collecting(broker, f"{prefix}-watch", f"{base}/#") as watch, serving(config, watch, base):
            await watch.client.publish(f"{base}/spoken/set", "start", qos=1)
            end = await watch.wait_for(f"{base}/spoken/event", lambda m: m.json["event"] != "started")
            assert end.json["event"] == "completed"
            await watch.wait_for(
                f"{base}/spoken/state", lambda m: m.json["state"] == "idle", since=watch.messages.index(end)
            )
            loads = [m for m in cast.messages(MEDIA) if m["type"] == "LOAD"]
            async with aiohttp.ClientSession() as http:  # what the speaker would fetch
                for load in loads:
                    async with http.get(load["media"]["contentId"]) as reply:
                        assert (reply.status, reply.content_type) == (200, "audio/mpeg")

    receiver = [(m["type"], m.get("volume", {}).get("level")) for m in commands(cast)]
    assert receiver == [
        ("GET_STATUS", None),  # the volume to give back
        ("SET_VOLUME", 0.3),
        ("LAUNCH", None),  # the default media receiver, which plays a URL
        ("SET_VOLUME", 0.5),
    ]
    assert commands(cast)[2]["appId"] == MEDIA_RECEIVER
    cache = SpeechCache(tmp_path / "cache")
    assert [load["media"]["contentId"].split("/audio/")[1] for load in loads] == [
        cache.path_for(s, "en-us", 150, 0.5).with_suffix(".mp3").name for s in SENTENCES
    ]
    assert all(load["media"]["contentType"] == "audio/mpeg" for load in loads)
    assert {r.destination for r in cast.received if r.namespace == MEDIA} == {TRANSPORT}
    assert cast.received[-1].data["type"] == "CLOSE"  # the connection is let go after the run
    assert cast.volume == 0.5


async def test_without_a_volume_nothing_is_changed_or_restored(tmp_path: Path) -> None:
    async with FakeCast().running(tmp_path) as cast:
        device = CastSpeakerDevice(
            CastSpeaker("bedroom", "127.0.0.1", cast.port),
            ClipServer(SpeechCache(tmp_path / "cache"), "http://192.168.1.20:8765"),
            FakeClock(),
        )
        await device.prepare(["Breathe in."])
        await device.say("Breathe in.")
        await device.restore()
    assert [m["type"] for m in commands(cast)] == ["GET_STATUS", "LAUNCH"]
    [load] = [m for m in cast.messages(MEDIA) if m["type"] == "LOAD"]
    assert load["media"]["contentId"].startswith("http://192.168.1.20:8765/audio/")


async def test_an_absent_speaker_is_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    device = CastSpeakerDevice(
        CastSpeaker("bedroom", "127.0.0.1", port),
        ClipServer(SpeechCache(tmp_path / "cache"), "http://127.0.0.1:1"),
        FakeClock(),
    )
    with pytest.raises(SpeakerError) as caught:
        await device.say("Breathe in.")
    assert str(caught.value) == f"Cast speaker at 127.0.0.1:{port}: cannot connect: connection refused"
    await device.restore()


async def test_media_that_never_starts_playing_is_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A speaker that takes the clip's URL but never plays it has not said the sentence."""
    monkeypatch.setattr(cast_module, "TIMEOUT_S", 0.5)
    async with FakeCast(plays=False).running(tmp_path) as cast:
        device = CastSpeakerDevice(
            CastSpeaker("bedroom", "127.0.0.1", cast.port),
            ClipServer(SpeechCache(tmp_path / "cache"), "http://192.168.1.20:8765"),
            FakeClock(),
        )
        await device.prepare(["Breathe in."])
        with pytest.raises(SpeakerError) as caught:
            await device.say("Breathe in.")
        assert str(caught.value) == "Cast speaker at 127.0.0.1: the media did not start playing"
        await device.restore()
