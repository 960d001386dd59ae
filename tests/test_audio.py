"""Clips for network speakers: MP3 beside the WAV, served at /audio/<key>.<ext> over real HTTP."""

from __future__ import annotations

import asyncio
import os
import wave
from pathlib import Path

from homeflow.speech import SpeechCache

from .mosquitto import Broker
from .web import running

SENTENCE = "Lean into the ball and breathe out slowly."
# MPEG-2 Layer III (what LAME writes at 22.05 kHz): kbit/s by the header's bitrate index.
_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_RATES = {0: 22050, 1: 24000, 2: 16000}


def mp3_seconds(data: bytes) -> float:
    """Walk the MP3's frame headers (576 samples each for MPEG-2) and add their lengths up."""
    at, frames, rate = 0, 0, 0
    if data[:3] == b"ID3":
        at = 10 + sum((data[6 + i] & 0x7F) << (7 * (3 - i)) for i in range(4))
    while at + 4 <= len(data):
        header = int.from_bytes(data[at : at + 4], "big")
        assert header >> 21 == 0x7FF, f"lost frame sync at byte {at}"
        assert (header >> 19) & 3 == 2 and (header >> 17) & 3 == 1, "not MPEG-2 Layer III"
        kbps, rate = _KBPS[(header >> 12) & 0xF], _RATES[(header >> 10) & 3]
        at += 72 * kbps * 1000 // rate + ((header >> 9) & 1)
        frames += 1
    assert at == len(data) and frames > 0
    return frames * 576 / rate


async def test_mp3_is_encoded_once_beside_the_wav_and_as_long(tmp_path: Path) -> None:
    cache = SpeechCache(tmp_path / "cache")
    clip = await cache.render(SENTENCE, "en-us", 150, 0.2)
    mp3 = await cache.mp3(clip)

    assert mp3 == clip.path.with_suffix(".mp3") and mp3.parent == clip.path.parent
    with wave.open(str(clip.path)) as source:
        assert (source.getframerate(), source.getnchannels()) == (22050, 1)
    # LAME pads a frame or two at each end; the speech itself is all there.
    assert clip.duration_s <= mp3_seconds(mp3.read_bytes()) <= clip.duration_s + 0.15
    stamp = mp3.stat().st_mtime_ns
    assert await cache.mp3(clip) == mp3
    assert mp3.stat().st_mtime_ns == stamp  # reused, not encoded again
    assert sorted(p.suffix for p in mp3.parent.iterdir()) == [".mp3", ".wav"]  # no .part left behind


def test_clips_are_served_without_a_token_with_type_length_and_ranges(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    cache = SpeechCache(tmp_path / "cache")

    async def render() -> Path:
        return await cache.mp3(await cache.render(SENTENCE, "en-us", 150, 0.2))

    mp3 = asyncio.run(render())
    data = mp3.read_bytes()
    with running(tmp_path, broker, prefix) as service:
        assert service.request("GET", "/api/routines", token=None).status == 401  # the API keeps its token
        # A speaker sends no token and names the address it was given, not a loopback name.
        whole = service.request(
            "GET", f"/audio/{mp3.name}", token=None, headers={"Host": "192.168.1.20:8765"}
        )
        assert whole.status == 200
        assert whole.headers["content-type"] == "audio/mpeg"
        assert int(whole.headers["content-length"]) == len(data) == len(whole.body)
        assert whole.body == data
        assert whole.headers["accept-ranges"] == "bytes"

        part = service.request("GET", f"/audio/{mp3.name}", token=None, headers={"Range": "bytes=100-299"})
        assert part.status == 206
        assert part.headers["content-range"] == f"bytes 100-299/{len(data)}"
        assert part.headers["content-length"] == "200"
        assert part.body == data[100:300]

        tail = service.request("GET", f"/audio/{mp3.name}", token=None, headers={"Range": "bytes=-50"})
        assert (tail.status, tail.body) == (206, data[-50:])

        wav = service.request("GET", f"/audio/{mp3.with_suffix('.wav').name}", token=None)
        assert (wav.status, wav.headers["content-type"]) == (200, "audio/wav")
        assert wav.body == mp3.with_suffix(".wav").read_bytes()

        head = service.request("HEAD", f"/audio/{mp3.name}", token=None)
        assert (head.status, head.headers["content-length"], head.body) == (200, str(len(data)), b"")


def test_nothing_outside_the_clips_can_be_read(tmp_path: Path, broker: Broker, prefix: str) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    key = "ab" * 32
    (folder / f"{key}.mp3").write_bytes(b"ID3 a clip")
    (folder / f".{key}.1234abcd.part").write_bytes(b"half a clip")
    (folder / f"{key}.txt").write_text("not a clip")
    os.symlink(tmp_path / "homeflow.yaml", folder / f"{'cd' * 32}.wav")  # a link out of the folder
    secret = tmp_path / "secret.txt"
    secret.write_text("never served")
    attempts = [
        "/audio/..%2Fsecret.txt",
        "/audio/%2e%2e%2fsecret.txt",
        "/audio/..%2F..%2Fsecret.txt",
        "/audio/%2e%2e/secret.txt",
        "/audio/../secret.txt",
        "/audio/..%5Csecret.txt",
        f"/audio/{key}.mp3%00.txt",
        f"/audio/{key}.txt",
        f"/audio/.{key}.1234abcd.part",
        f"/audio/{key.upper()}.mp3",
        f"/audio/{key}.MP3",
        f"/audio/{'cd' * 32}.wav",
        f"/audio/{key[:-1]}.mp3",
        "/audio/",
        "/audio/%2Fetc%2Fpasswd",
        f"/audio/{key}.mp3/",
        f"/audio/x/{key}.mp3",
    ]
    with running(tmp_path, broker, prefix) as service:
        assert service.request("GET", f"/audio/{key}.mp3", token=None).body == b"ID3 a clip"
        for path in attempts:
            reply = service.request("GET", path, token=None)
            assert reply.status in (400, 404), (path, reply.status)
            assert b"never served" not in reply.body and b"mqtt" not in reply.body, path
            assert b"half a clip" not in reply.body and b"not a clip" not in reply.body, path
