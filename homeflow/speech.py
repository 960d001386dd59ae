"""Offline speech: espeak-ng, or Piper for a voice model file, renders sentences into a cache of WAV clips."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import importlib.util
import logging
import os
import re
import secrets
import shutil
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homeflow import jsontext
from homeflow.errors import SpeechError

log = logging.getLogger(__name__)

DEFAULT_ENGINE = "espeak-ng"
PIPER = "piper"
PIPER_SUFFIX = ".onnx"
PIPER_RATE_WPM = 150  # the words per minute at which a Piper voice speaks at its own pace
# A clip file's name: the sha256 of what was rendered, and the format. Nothing else is ever served.
CLIP_NAME = re.compile(r"[0-9a-f]{64}\.(?:wav|mp3)")
# Sonos and Cast both take MP3 at the clip's own 22.05 kHz; 64 kbit/s mono is plenty for speech.
MP3_KBPS = 64
# Bump when the rendering itself changes (e.g. how the lead-in is made) so old clips are not reused.
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Clip:
    """A rendered sentence: its WAV file and its spoken length in seconds, lead-in included."""

    text: str
    path: Path
    duration_s: float


def is_piper_voice(voice: str) -> bool:
    """A voice given as a Piper model file (`voice: voices/en_US-joe-medium.onnx`) is rendered by Piper."""
    return voice.endswith(PIPER_SUFFIX)


def piper_problem() -> str | None:
    """Why Piper voices cannot be rendered, or None."""
    if importlib.util.find_spec("piper") is None:
        return "a Piper voice (.onnx) needs piper-tts: pip install 'homeflow[piper]'"
    return None


def engine_problem(engine: str = DEFAULT_ENGINE) -> str | None:
    """Return why the speech engine cannot run, or None when it is installed."""
    if shutil.which(engine) is None:
        return _missing(engine)
    return None


class SpeechCache:
    """Renders sentences with espeak-ng into `<folder>/<sha256>.wav`, reusing earlier renders."""

    def __init__(self, folder: Path, engine: str = DEFAULT_ENGINE, concurrency: int = 2) -> None:
        self.folder = folder
        self.engine = engine
        self.hits = 0
        self.misses = 0
        self._slots = asyncio.Semaphore(concurrency)

    def path_for(self, text: str, voice: str, rate_wpm: int, lead_in_s: float) -> Path:
        """Return where the clip for these parameters lives (whether rendered yet or not)."""
        engine = PIPER if is_piper_voice(voice) else self.engine
        key = jsontext.dumps([_FORMAT, engine, voice, rate_wpm, lead_in_s, text])
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()}.wav"

    async def render(self, text: str, voice: str, rate_wpm: int, lead_in_s: float) -> Clip:
        """Return the clip for `text`, rendering it unless the cache already has it."""
        path = self.path_for(text, voice, rate_wpm, lead_in_s)
        if (clip := _cached(text, path)) is not None:
            self.hits += 1
            return clip
        async with self._slots:
            # Another task may have rendered the same clip while this one waited for a slot.
            if (clip := _cached(text, path)) is not None:
                self.hits += 1
                return clip
            self.misses += 1
            await self._synthesize(text, voice, rate_wpm, lead_in_s, path)
        return Clip(text, path, _duration(path))

    async def mp3(self, clip: Clip) -> Path:
        """The clip encoded as MP3 beside its WAV (`<key>.mp3`), encoding it once."""
        path = clip.path.with_suffix(".mp3")
        if path.is_file():
            return path
        async with self._slots:
            if not path.is_file():
                await asyncio.to_thread(_encode_mp3, clip.path, path)
        return path

    def file(self, name: str) -> Path | None:
        """The cached clip file called `name`, or None: only `<sha256>.wav|mp3` directly in the folder."""
        if not CLIP_NAME.fullmatch(name):
            return None
        path = self.folder / name
        # The pattern already rules out separators and `..`; the parent check holds even if it were wrong.
        try:
            if path.resolve().parent != self.folder.resolve() or not path.is_file():
                return None
        except OSError:
            return None
        return path

    async def render_all(
        self, texts: Iterable[str], voice: str, rate_wpm: int, lead_in_s: float
    ) -> dict[str, Clip]:
        """Render every distinct text concurrently (bounded); the first failure cancels the rest."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = {
                    text: group.create_task(self.render(text, voice, rate_wpm, lead_in_s))
                    for text in dict.fromkeys(texts)
                }
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return {text: task.result() for text, task in tasks.items()}

    async def _synthesize(self, text: str, voice: str, rate_wpm: int, lead_in_s: float, path: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.part")
        try:
            if is_piper_voice(voice):
                await asyncio.to_thread(_render_piper, text, voice, rate_wpm, part)
            else:
                await self._run_engine(text, voice, rate_wpm, part)
            try:
                await asyncio.to_thread(_prepend_silence, part, lead_in_s)
            except (FileNotFoundError, EOFError, wave.Error) as exc:
                raise SpeechError(f"{self.engine} wrote no usable WAV for {text!r}: {exc}") from None
            os.replace(part, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()

    async def _run_engine(self, text: str, voice: str, rate_wpm: int, out: Path) -> None:
        command = (self.engine, "-v", voice, "-s", str(rate_wpm), "-w", str(out), "--", text)
        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise SpeechError(_missing(self.engine)) from None
        try:
            _, stderr = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            reason = last_line(stderr) or f"exit status {proc.returncode}"
            raise SpeechError(f"{self.engine} failed on {text!r}: {reason}")


def last_line(output: bytes) -> str:
    """Return the last non-blank line of a process's output, decoded leniently."""
    lines = output.decode(errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else ""


def _missing(engine: str) -> str:
    return f"{engine} not found: install it (apt-get install espeak-ng)"


def _cached(text: str, path: Path) -> Clip | None:
    try:
        return Clip(text, path, _duration(path))
    except (FileNotFoundError, EOFError, wave.Error):
        return None


def _duration(path: Path) -> float:
    with wave.open(str(path), "rb") as clip:
        return clip.getnframes() / clip.getframerate()


def _encode_mp3(wav_path: Path, mp3_path: Path) -> None:
    try:
        import lameenc  # noqa: PLC0415 -- an optional wheel: only network speakers need MP3
    except ImportError:
        raise SpeechError("MP3 encoding needs lameenc: pip install lameenc") from None
    with wave.open(str(wav_path), "rb") as source:
        params = source.getparams()
        frames = source.readframes(params.nframes)
    if params.sampwidth != 2:
        raise SpeechError(f"{wav_path.name}: cannot encode {8 * params.sampwidth}-bit audio to MP3")
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(MP3_KBPS)
    encoder.set_in_sample_rate(params.framerate)
    encoder.set_channels(params.nchannels)
    encoder.set_quality(2)
    data = encoder.encode(frames) + encoder.flush()
    part = mp3_path.with_name(f".{mp3_path.stem}.{secrets.token_hex(4)}.part")
    try:
        part.write_bytes(data)
        os.replace(part, mp3_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()


@functools.cache
def _piper_voice(model: str) -> Any:
    # Loaded once per model (a second or so) and kept: rendering a sentence then takes a fraction of that.
    from piper import PiperVoice  # noqa: PLC0415 -- an optional extra

    return PiperVoice.load(model)


def _render_piper(text: str, model: str, rate_wpm: int, out: Path) -> None:
    if (problem := piper_problem()) is not None:
        raise SpeechError(problem)
    from piper import SynthesisConfig  # noqa: PLC0415 -- an optional extra

    # Noise scales 0 make Piper deterministic, so a cached clip is what a new render would be; the
    # length scale maps words per minute onto Piper's phoneme length (1.0 is the voice's own pace).
    config = SynthesisConfig(length_scale=PIPER_RATE_WPM / rate_wpm, noise_scale=0.0, noise_w_scale=0.0)
    try:
        voice = _piper_voice(model)
        with wave.open(str(out), "wb") as target:
            voice.synthesize_wav(text, target, syn_config=config)
    except FileNotFoundError:
        raise SpeechError(f"Piper voice model not found: {model}") from None
    except (OSError, ValueError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise SpeechError(f"Piper failed on {text!r} with {Path(model).name}: {reason}") from None


def _prepend_silence(path: Path, seconds: float) -> None:
    with wave.open(str(path), "rb") as source:
        params = source.getparams()
        frames = source.readframes(params.nframes)
    # 8-bit WAV is unsigned, so its silence is the midpoint 0x80, not zero.
    zero = b"\x80" if params.sampwidth == 1 else b"\x00"
    silence = zero * (round(seconds * params.framerate) * params.nchannels * params.sampwidth)
    with wave.open(str(path), "wb") as target:
        target.setparams(params)
        target.writeframes(silence + frames)
