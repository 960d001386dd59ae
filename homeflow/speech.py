"""Offline speech: espeak-ng renders sentences into a disk cache of WAV clips."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from homeflow.errors import SpeechError

log = logging.getLogger(__name__)

DEFAULT_ENGINE = "espeak-ng"
# Bump when the rendering itself changes (e.g. how the lead-in is made) so old clips are not reused.
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Clip:
    """A rendered sentence: its WAV file and its spoken length in seconds, lead-in included."""

    text: str
    path: Path
    duration_s: float


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
        key = json.dumps([_FORMAT, self.engine, voice, rate_wpm, lead_in_s, text])
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
