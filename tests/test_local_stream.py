"""A local speaker streams every sentence to one long-lived player process, with real espeak-ng clips
and small player programs that read stdin: one process for many sentences, killed on a cancel or a
hang, its own reason when it fails, and gone once `homeflow run` stops."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import sys
import time
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from homeflow.clock import LoopClock
from homeflow.devices.speakers.local import LocalSpeakerDevice
from homeflow.devices.speakers.voice import Line, Voice
from homeflow.errors import SpeakerError
from homeflow.settings import SettingsError, load
from homeflow.settings.model import STREAM_PLAYER, LocalSpeaker
from homeflow.speech import SpeechCache

from .harness import SHORT_ROUTINE, collecting, write_settings
from .mosquitto import Broker

WORDS = ["One.", "Two.", "Three.", "Four.", "Five.", "Six.", "Seven.", "Eight.", "Nine.", "Ten."]
LONG = "Roll the ball slowly under your left shoulder blade, then breathe out and let the arm hang."

# A player: notes its pid and arguments when it starts, then appends all it reads to `received`.
RECORDING = """\
import os, sys
folder = sys.argv[1]
with open(os.path.join(folder, "pids"), "a") as pids:
    pids.write(" ".join([str(os.getpid()), *sys.argv[2:]]) + "\\n")
with open(os.path.join(folder, "received"), "ab") as out:
    while chunk := os.read(0, 65536):
        out.write(chunk)
        out.flush()
"""
# A player that never reads its input.
DEAF = """\
import os, sys, time
with open(os.path.join(sys.argv[1], "pids"), "a") as pids:
    pids.write(f"{os.getpid()}\\n")
time.sleep(600)
"""
# A player that cannot open its sound device, in aplay's words.
NO_CARD = "aplay: main:831: audio open error: No such file or directory"
FAILING = f"""\
import sys
print("opening default", file=sys.stderr)
print({NO_CARD!r}, file=sys.stderr)
sys.exit(1)
"""
# A player that reads to the end of its input, then lingers (as one still playing out its buffer).
LINGERING = RECORDING + "import time\ntime.sleep(600)\n"


def program(folder: Path, name: str, body: str) -> tuple[str, ...]:
    """A stream player command: this Python `body`, given the folder and the clip's format."""
    path = folder / f"{name}.py"
    path.write_text(body)
    return (sys.executable, str(path), str(folder), "{rate}", "{channels}")


def speaker(cache: SpeechCache, command: tuple[str, ...]) -> LocalSpeakerDevice:
    settings = LocalSpeaker("desk", rate_wpm=450, lead_in_s=0.0, stream_player=command)
    return LocalSpeakerDevice(settings, cache)


def pids(folder: Path) -> list[int]:
    path = folder / "pids"
    return [int(line.split()[0]) for line in path.read_text().splitlines()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has already stopped


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


def frames(path: Path) -> bytes:
    with wave.open(str(path)) as clip:
        return clip.readframes(clip.getnframes())


@pytest.fixture
def cache(speech_cache: Path) -> SpeechCache:
    return SpeechCache(speech_cache)


async def test_ten_sentences_play_through_one_process_frames_in_order(
    tmp_path: Path, cache: SpeechCache
) -> None:
    device = speaker(cache, program(tmp_path, "recording", RECORDING))
    lengths = await device.prepare(WORDS)
    started = time.monotonic()
    for word in WORDS:
        await device.say(word)
    took = time.monotonic() - started
    await device.aclose()

    [line] = (tmp_path / "pids").read_text().splitlines()
    assert line.split()[1:] == ["22050", "1"]  # {rate} and {channels} from the clips' header
    clips = await cache.render_all(WORDS, "en-us", 450, 0.0)
    assert (tmp_path / "received").read_bytes() == b"".join(frames(clips[w].path) for w in WORDS)
    # Each sentence returns once it has been played, not before (nor long after).
    assert sum(lengths.values()) <= took < sum(lengths.values()) + 2
    assert not alive(pids(tmp_path)[0])


async def test_a_cancelled_sentence_kills_its_player_and_the_next_starts_another(
    tmp_path: Path, cache: SpeechCache
) -> None:
    device = speaker(cache, program(tmp_path, "recording", RECORDING))
    await device.prepare([LONG, "Two."])
    saying = asyncio.create_task(device.say(LONG))
    assert await eventually(lambda: len(pids(tmp_path)) == 1)
    await asyncio.sleep(0.1)  # mid-sentence
    saying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await saying
    [first] = pids(tmp_path)
    assert not alive(first)  # at once: what it held in the pipe is not played on

    await device.say("Two.")
    assert len(pids(tmp_path)) == 2 and alive(pids(tmp_path)[1])
    await device.aclose()
    assert not any(alive(pid) for pid in pids(tmp_path))


async def test_a_player_that_never_reads_is_cut_by_the_voice_and_killed(
    tmp_path: Path, cache: SpeechCache
) -> None:
    device = speaker(cache, program(tmp_path, "deaf", DEAF))
    [length] = (await device.prepare([LONG])).values()
    assert length > 1.6  # more than a pipe holds (64 KiB, about 1.5 s at 22050 Hz)
    missed: list[str] = []
    voice = Voice(device, LoopClock(), on_missed=lambda cue, name, why: missed.append(why), grace_s=0.2)
    # Said as if it were short: a player that takes the clip in full would be cut off as well, but
    # one that takes nothing holds the write (the drain) until the voice's bound cancels it.
    voice.say(Line(LONG, voice.clock.now(), 0.3, cue=0))
    voice.close()
    async with asyncio.timeout(5):
        await voice.run()

    assert missed == ["no answer within 0.5 s"]  # the speaker is down
    [pid] = pids(tmp_path)
    assert not alive(pid)
    await device.aclose()


async def test_a_player_that_exits_at_once_fails_the_sentence_with_its_reason(
    tmp_path: Path, cache: SpeechCache
) -> None:
    command = program(tmp_path, "failing", FAILING)
    device = speaker(cache, command)
    await device.prepare(["One."])
    for _ in range(2):  # the next sentence starts a new player, which fails the same way
        with pytest.raises(SpeakerError) as failed:
            await device.say("One.")
        assert str(failed.value) == f"player `{shlex.join(command)}` failed: {NO_CARD}"
    with pytest.raises(SpeakerError, match="audio open error"):
        await device.check()


async def test_a_player_that_cannot_be_started_leaves_the_run_going_without_sound(
    tmp_path: Path, cache: SpeechCache, caplog: pytest.LogCaptureFixture
) -> None:
    device = speaker(cache, ("no-such-player", "-r", "{rate}"))
    await device.prepare(["One.", "Two."])
    voice = Voice(device, LoopClock())
    for text in ("One.", "Two."):
        voice.say(Line(text, voice.clock.now(), 5.0))
    voice.close()
    await voice.run()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "speaker desk: player `no-such-player -r '{rate}'` failed: [Errno 2] No such file or directory: "
        "'no-such-player'; its sentences are printed here (say: …)"
    ]
    with pytest.raises(SpeakerError, match=r"^player `no-such-player -r '\{rate\}'` failed: \[Errno 2\]"):
        await device.check()


async def test_check_plays_a_moment_of_silence_through_the_player(tmp_path: Path, cache: SpeechCache) -> None:
    device = speaker(cache, program(tmp_path, "recording", RECORDING))
    await device.check()
    await device.check()
    await device.aclose()
    received = (tmp_path / "received").read_bytes()
    assert len(pids(tmp_path)) == 1
    assert received and set(received) == {0} and len(received) == 2 * 2 * (22050 // 20)


async def test_a_clip_of_another_format_starts_a_player_for_it(tmp_path: Path) -> None:
    engine = tmp_path / "engine.py"
    engine.write_text(ENGINE)
    engine.chmod(0o755)
    cache = SpeechCache(tmp_path / "cache", engine=str(engine))
    device = speaker(cache, program(tmp_path, "recording", RECORDING))
    texts = ["One.", "In stereo.", "Two.", "8-bit stereo."]
    await device.prepare(texts)
    for text in texts[:3]:
        await device.say(text)
    with pytest.raises(SpeakerError, match=r"has 8-bit samples; a streaming player takes 16-bit clips only"):
        await device.say(texts[3])
    await device.aclose()

    formats = [line.split()[1:] for line in (tmp_path / "pids").read_text().splitlines()]
    assert formats == [["22050", "1"], ["16000", "2"], ["22050", "1"]]
    assert not any(alive(pid) for pid in pids(tmp_path))


# A speech engine: espeak-ng, except a text with "stereo" is a short 16 kHz stereo tone (8-bit if asked).
ENGINE = """\
#!/usr/bin/env python3
import subprocess, sys, wave
args = sys.argv[1:]
text, out = args[-1], args[args.index("-w") + 1]
if "stereo" not in text:
    sys.exit(subprocess.call(["espeak-ng", *args]))
with wave.open(out, "wb") as clip:
    clip.setnchannels(2)
    clip.setsampwidth(1 if "8-bit" in text else 2)
    clip.setframerate(16000)
    clip.writeframes(bytes(range(256)) * 25)
"""


def test_stream_player_is_read_and_mistakes_are_located(tmp_path: Path) -> None:
    config = tmp_path / "homeflow.yaml"
    config.write_text(
        "speakers:\n"
        "  a: {local: {stream_player: 'pw-cat -p --rate {rate} --channels {channels} -'}}\n"
        "  b: {local: {stream_player: [paplay, '--rate={rate}', --raw]}}\n"
        "  c: {local: {player: aplay -q}}\n"
        "  d: {local: {}}\n"
    )
    speakers = load(config).speakers
    assert speakers["a"] == LocalSpeaker(
        "a", stream_player=("pw-cat", "-p", "--rate", "{rate}", "--channels", "{channels}", "-")
    )
    assert speakers["b"] == LocalSpeaker("b", stream_player=("paplay", "--rate={rate}", "--raw"))
    assert speakers["c"] == LocalSpeaker("c", player=("aplay", "-q"))
    assert speakers["d"] == LocalSpeaker("d") and speakers["d"].command == STREAM_PLAYER

    config.write_text(
        "speakers:\n"
        "  a: {local: {stream_player: 'aplay -r {rate} -f {bits}'}}\n"
        "  b: {local: {stream_player: [aplay, '-c', '{channels', '-']}}\n"
        "  c: {local: {player: aplay -q, stream_player: aplay -t raw}}\n"
    )
    with pytest.raises(SettingsError) as caught:
        load(config)
    assert [str(p).split("homeflow.yaml:", 1)[1] for p in caught.value.problems] == [
        "2:30: speakers.a.local.stream_player: unknown placeholder {bits}; known: {rate}, {channels}",
        '3:44: speakers.b.local.stream_player[2]: cannot read the placeholders in "{channels": '
        "expected '}' before end of string (write a brace as {{ or }})",
        "4:48: speakers.c.local.stream_player: player and stream_player both given: write one (player is "
        "given a file per sentence, stream_player is fed every sentence as raw PCM)",
    ]


async def test_no_player_remains_once_homeflow_run_stops(tmp_path: Path, broker: Broker, prefix: str) -> None:
    command = program(tmp_path, "lingering", LINGERING)
    body = (
        f"speakers:\n  desk: {{local: {{stream_player: {json.dumps(list(command))}, rate: 450}}}}\n"
        "automations: [{routine: short, speakers: [desk]}]\n"
    )
    config = write_settings(tmp_path, broker, prefix, body, {"short": SHORT_ROUTINE})
    base = f"{prefix}/hf"
    async with collecting(broker, f"{prefix}-watcher", f"{base}/#") as watch:
        with (tmp_path / "homeflow.log").open("wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "homeflow.cli", "-v", "run", "-c", str(config),
                env={**os.environ, "HOMEFLOW_TIME_SCALE": "5"},
                stdout=asyncio.subprocess.DEVNULL, stderr=log_file,
            )  # fmt: skip
        try:
            await watch.wait_for(f"{base}/status", lambda m: m.text == "online")
            await watch.client.publish(f"{base}/short/set", "start", qos=1)
            await watch.wait_for(f"{base}/short/say", lambda m: "Settle in." in m.text)
            assert await eventually(lambda: bool(pids(tmp_path)))
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    output = (tmp_path / "homeflow.log").read_text()
    assert proc.returncode == 0, output
    [pid] = pids(tmp_path)
    assert await eventually(lambda: not alive(pid)), output


WATCHING = """\
import asyncio, threading
from homeflow.process import watch_children_by_pidfd

async def main():
    watch_children_by_pidfd(asyncio.get_running_loop())
    players = [await asyncio.create_subprocess_exec("sleep", "30") for _ in range(5)]
    threads = threading.active_count()
    for player in players:
        player.kill()
    print(threads, [await player.wait() for player in players])

asyncio.run(main())
"""


async def test_long_lived_players_cost_homeflow_no_thread_each() -> None:
    """`homeflow run` waits for its child processes through pidfds on the event loop: on Python 3.11
    asyncio otherwise keeps a thread per live child, one per local speaker's player."""
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WATCHING, stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parent.parent
    )
    out, _ = await asyncio.wait_for(done.communicate(), 20)
    assert out.decode().split(maxsplit=1) == ["1", "[-9, -9, -9, -9, -9]\n"]
