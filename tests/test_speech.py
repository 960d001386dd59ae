"""Speech rendering with the real espeak-ng, and the local speaker with small player scripts."""

from __future__ import annotations

import asyncio
import logging
import re
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from homeflow.clock import LoopClock
from homeflow.devices.speakers.local import LocalSpeakerDevice
from homeflow.devices.speakers.voice import Line, Voice
from homeflow.errors import SoundFailed, SpeechError
from homeflow.settings.model import LocalSpeaker
from homeflow.speech import SpeechCache, engine_problem

SENTENCE = "Roll the ball slowly under your left shoulder blade."


@pytest.fixture
def cache(tmp_path: Path) -> SpeechCache:
    return SpeechCache(tmp_path / "cache")


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def speaker(cache: SpeechCache, *player: str) -> LocalSpeakerDevice:
    return LocalSpeakerDevice(LocalSpeaker(name="desk", player=player, lead_in_s=0.1), cache)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    # An unreaped zombie has already stopped; the state letter follows the ")" closing its name.
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def eventually(condition: Callable[[], bool], timeout_s: float = 2.0) -> bool:
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


async def test_render_measures_duration_including_lead_in(cache: SpeechCache) -> None:
    bare = await cache.render(SENTENCE, "en-us", 150, 0.0)
    padded = await cache.render(SENTENCE, "en-us", 150, 0.5)

    assert bare.duration_s > 0.5
    assert padded.duration_s == pytest.approx(bare.duration_s + 0.5, abs=0.001)
    assert re.fullmatch(r"[0-9a-f]{64}\.wav", padded.path.name)
    assert padded.path.parent == cache.folder
    with wave.open(str(padded.path), "rb") as clip:
        assert clip.getnframes() / clip.getframerate() == padded.duration_s
        assert clip.readframes(clip.getframerate() // 2) == b"\x00" * (clip.getframerate() // 2) * 2
    assert sorted(p.name for p in cache.folder.iterdir()) == sorted([bare.path.name, padded.path.name])


async def test_second_render_is_a_cache_hit(cache: SpeechCache) -> None:
    first = await cache.render(SENTENCE, "en-us", 150, 0.2)
    mtime = first.path.stat().st_mtime_ns
    again = await cache.render(SENTENCE, "en-us", 150, 0.2)

    assert again == first
    assert (cache.hits, cache.misses) == (1, 1)
    assert first.path.stat().st_mtime_ns == mtime


async def test_voice_and_rate_make_different_clips(cache: SpeechCache) -> None:
    paths = {
        (await cache.render(SENTENCE, voice, rate, 0.2)).path
        for voice, rate in [("en-us", 150), ("en-gb", 150), ("en-us", 200)]
    }
    assert len(paths) == 3
    assert cache.misses == 3


async def test_render_all_is_bounded_and_renders_each_text_once(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    engine = script(tmp_path, "engine", f'echo start >> {log}; sleep 0.1; espeak-ng "$@"; echo end >> {log}')
    cache = SpeechCache(tmp_path / "cache", engine=str(engine))
    texts = [f"Step {n}." for n in range(5)]

    clips = await cache.render_all([*texts, *texts], "en-us", 150, 0.0)

    assert list(clips) == texts
    assert cache.misses == 5
    running = peak = 0
    for line in log.read_text().split():
        running += 1 if line == "start" else -1
        peak = max(peak, running)
    assert peak == 2


async def test_missing_engine_is_a_clear_error(tmp_path: Path) -> None:
    cache = SpeechCache(tmp_path, engine="espeak-ng-not-installed")
    with pytest.raises(SpeechError, match=r"^espeak-ng-not-installed not found: install it \(apt-get"):
        await cache.render(SENTENCE, "en-us", 150, 0.2)
    assert engine_problem("espeak-ng-not-installed") == (
        "espeak-ng-not-installed not found: install it (apt-get install espeak-ng)"
    )
    assert engine_problem() is None


async def test_failing_engine_names_the_text_and_the_reason(cache: SpeechCache) -> None:
    with pytest.raises(
        SpeechError, match=re.escape("failed on 'Breathe out.': Error: The specified espeak-ng voice")
    ):
        await cache.render("Breathe out.", "zzz", 150, 0.2)
    assert list(cache.folder.iterdir()) == []


async def test_say_plays_the_prepared_clip(
    cache: SpeechCache, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "played.log"
    device = speaker(cache, "sh", str(script(tmp_path, "player", f'echo "$1" >> {log}')))
    durations = await device.prepare([SENTENCE, SENTENCE])
    assert list(durations) == [SENTENCE]
    assert durations[SENTENCE] > 0.6

    with caplog.at_level(logging.INFO):
        await device.say(SENTENCE)
        await device.say("Not prepared.")

    played = log.read_text().splitlines()
    assert played[0] == str(cache.path_for(SENTENCE, "en-us", 150, 0.1))
    assert played[1] == str(cache.path_for("Not prepared.", "en-us", 150, 0.1))
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        f"say: {SENTENCE}",
        "say: Not prepared.",
    ]


@pytest.mark.parametrize("player", ["false", "no-such-player"])
async def test_failing_player_prints_each_sentence_and_a_run_warns_once(
    cache: SpeechCache, player: str, caplog: pytest.LogCaptureFixture
) -> None:
    device = speaker(cache, player)
    await device.prepare([SENTENCE])
    voice = Voice(device, LoopClock())
    for _ in range(2):
        voice.say(Line(SENTENCE, voice.clock.now(), 5.0))
    voice.close()
    with caplog.at_level(logging.INFO):
        await voice.run()

    messages = [r.getMessage() for r in caplog.records]
    assert messages.count(f"say: {SENTENCE}") == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"player `{player}` failed" in warnings[0]
    with pytest.raises(SoundFailed):  # each sentence tries the player again
        await device.say(SENTENCE)


async def test_concurrent_says_take_turns(cache: SpeechCache, tmp_path: Path) -> None:
    log = tmp_path / "played.log"
    player = script(tmp_path, "player", f"echo start >> {log}; sleep 0.2; echo end >> {log}")
    device = speaker(cache, str(player))
    await device.prepare(["One.", "Two."])

    await asyncio.gather(device.say("One."), device.say("Two."))

    assert log.read_text().split() == ["start", "end", "start", "end"]


async def test_cancelled_say_kills_the_player(cache: SpeechCache, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    # The player's own child is what would be orphaned if only the wrapper were killed.
    player = script(
        tmp_path, "player", f"sleep 30 & echo $! > {pid_file}.new; mv {pid_file}.new {pid_file}; wait"
    )
    device = speaker(cache, str(player))
    await device.prepare([SENTENCE])

    saying = asyncio.create_task(device.say(SENTENCE))
    assert await eventually(pid_file.exists)
    pid = int(pid_file.read_text())
    assert alive(pid)

    saying.cancel()
    # A surviving child would hold the player's stderr open, and `say` would hang until it ended.
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(2):
            await saying
    assert await eventually(lambda: not alive(pid))
