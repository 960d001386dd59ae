"""A local speaker's one long-lived player process, fed each clip's raw PCM on its stdin.

Starting a process per sentence (fork/exec, and a child to watch and reap) was the largest cost of many
rooms with local speakers; one process per speaker plays every sentence instead. It is started for one
format (rate and channels, filled into the command's `{rate}` and `{channels}`) and started again for a
clip of another. A cancelled sentence kills its process group, so audio already in the pipe stops at
once; a player that exits or stops taking its input fails the sentence, and the next one starts anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from homeflow.errors import SpeakerError
from homeflow.speech import last_line

SAMPLE_BYTES = 2  # 16-bit samples: what espeak-ng and Piper write
# A moment of silence for `check`, in the player's format (espeak-ng's until a clip has been played).
SILENCE_S = 0.05
DEFAULT_FORMAT = (22050, 1)
# ... and a check watches the player this long: one that cannot open the sound device exits by then.
CHECK_S = 0.25
# On close, a player is given this long to play what it holds and exit before it is killed.
CLOSE_S = 1.0
# A player whose input broke is given this long to exit (and say why) before it is killed.
EXIT_WAIT_S = 0.5
# Only the end of the player's stderr is read for its reason: a chatty player may have written much.
STDERR_TAIL = 4096

Format = tuple[int, int]  # (frames per second, channels)


class PlayerMissing(SpeakerError):
    """The player command cannot be started (not installed, not executable)."""


@dataclass(frozen=True, slots=True)
class Pcm:
    """A clip's raw 16-bit frames and their format."""

    frames: bytes
    rate: int
    channels: int

    @property
    def format(self) -> Format:
        return (self.rate, self.channels)

    @property
    def duration_s(self) -> float:
        return len(self.frames) / (self.rate * self.channels * SAMPLE_BYTES)


def read_pcm(path: Path) -> Pcm:
    """The frames of a 16-bit WAV clip; a clear error for any other."""
    # Read in the loop: a clip is a few hundred kilobytes from the page cache, well under a millisecond.
    try:
        with wave.open(str(path), "rb") as clip:
            width = clip.getsampwidth()
            if width != SAMPLE_BYTES:
                raise SpeakerError(
                    f"{path.name} has {8 * width}-bit samples; a streaming player takes 16-bit clips only "
                    "(a `player` given the file plays any WAV)"
                )
            return Pcm(clip.readframes(clip.getnframes()), clip.getframerate(), clip.getnchannels())
    except (OSError, EOFError, wave.Error) as exc:
        raise SpeakerError(f"cannot read clip {path.name}: {exc}") from None


def silence(fmt: Format, seconds: float = SILENCE_S) -> Pcm:
    rate, channels = fmt
    return Pcm(b"\0" * (int(rate * seconds) * channels * SAMPLE_BYTES), rate, channels)


def fill(command: tuple[str, ...], fmt: Format) -> list[str]:
    """The command with `{rate}` and `{channels}` filled in."""
    rate, channels = fmt
    try:
        return [word.format(rate=rate, channels=channels) for word in command]
    except (KeyError, IndexError, ValueError) as exc:
        raise SpeakerError(
            f"player `{shlex.join(command)}`: cannot fill in its placeholders: {exc}"
        ) from None


async def spawn_player(
    command: Sequence[str], errors: IO[bytes], *, stdin: int
) -> asyncio.subprocess.Process:
    """Start a player in a process group of its own, so a kill also ends whatever a wrapper script
    started. Shielded: a cancel in the middle of spawning would leak the half-made process, so it is
    killed once made; an OSError (not installed, not executable) is raised as is."""
    spawning = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *command, stdin=stdin, stdout=asyncio.subprocess.DEVNULL, stderr=errors, start_new_session=True
        )
    )
    try:
        return await asyncio.shield(spawning)
    except asyncio.CancelledError:
        with contextlib.suppress(OSError):
            await kill_group(await spawning)
        raise


async def kill_group(proc: asyncio.subprocess.Process) -> None:
    """End a player and anything it started, at once; no-op once it has been reaped."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


class _Running:
    """One started player: its process, the format it was started for, its stderr file, its end."""

    def __init__(self, proc: asyncio.subprocess.Process, fmt: Format, errors: IO[bytes]) -> None:
        self.proc = proc
        self.format = fmt
        self.exited = asyncio.ensure_future(proc.wait())
        self._errors = errors
        self._said = ""  # the last line of its stderr, read once it has ended

    def reason(self, otherwise: str) -> str:
        """The last line the ended player wrote to stderr, else `otherwise`."""
        return self._said or otherwise

    async def kill(self) -> None:
        """End the player and anything it started (its whole process group), at once."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # its group even once it has exited itself
        await self.proc.wait()
        if not self._errors.closed:
            self._errors.seek(0, os.SEEK_END)
            self._errors.seek(max(0, self._errors.tell() - STDERR_TAIL))
            self._said = last_line(self._errors.read())
            self._errors.close()

    async def close(self) -> None:
        """Close its input so it plays what it holds and exits; killed if it lingers."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            await asyncio.wait((self.exited,), timeout=CLOSE_S)
        finally:
            await self.kill()  # also whatever a wrapper script left behind


class StreamPlayer:
    """Plays clips through one process that reads raw PCM on stdin, started when first needed."""

    def __init__(self, command: tuple[str, ...]) -> None:
        self.command = command
        self._running: _Running | None = None
        self._last_format = DEFAULT_FORMAT

    @property
    def pid(self) -> int | None:
        return None if self._running is None else self._running.proc.pid

    async def play(self, pcm: Pcm, at_least_s: float = 0.0) -> None:
        """Write `pcm` to the player and return once it has been played: its length (or `at_least_s`)
        after the write began (the device plays in real time). Cancelled, the player is killed."""
        running = await self._started(pcm.format)
        began = asyncio.get_running_loop().time()
        try:
            await self._write(running, pcm.frames)
            # The player exiting while it plays is a failure too.
            remaining = began + max(pcm.duration_s, at_least_s) - asyncio.get_running_loop().time()
            await asyncio.wait((running.exited,), timeout=max(0.0, remaining))
        except asyncio.CancelledError:
            self._running = None
            await running.kill()
            raise
        if running.exited.done():
            raise await self._failed(running)

    async def check(self) -> None:
        """Start the player if needed and play a moment of silence; one that exits meanwhile fails."""
        await self.play(silence(self._last_format), at_least_s=CHECK_S)

    async def aclose(self) -> None:
        """Close the player, if one runs."""
        running, self._running = self._running, None
        if running is not None:
            await running.close()

    async def _started(self, fmt: Format) -> _Running:
        """The running player for `fmt`: this one, or a new one (after closing one of another format)."""
        running = self._running
        if running is not None and running.exited.done():
            raise await self._failed(running)
        if running is not None and running.format == fmt:
            return running
        await self.aclose()
        self._running = await self._start(fmt)
        self._last_format = fmt
        return self._running

    async def _start(self, fmt: Format) -> _Running:
        command = fill(self.command, fmt)
        # stderr goes to a file, not a pipe: a pipe held open by a killed player's children would
        # outlive the process and leak.
        errors = tempfile.TemporaryFile()  # noqa: SIM115 (kept as long as the player runs)
        try:
            proc = await spawn_player(command, errors, stdin=asyncio.subprocess.PIPE)
        except OSError as exc:
            errors.close()
            raise PlayerMissing(str(exc)) from None
        except asyncio.CancelledError:
            errors.close()
            raise
        return _Running(proc, fmt, errors)

    async def _write(self, running: _Running, frames: bytes) -> None:
        stdin = running.proc.stdin
        assert stdin is not None
        try:
            stdin.write(frames)
            await stdin.drain()  # a player that stops reading holds this; the voice's bound cuts it
        except ConnectionError:
            raise await self._failed(running) from None

    async def _failed(self, running: _Running) -> SpeakerError:
        """Why the player failed, once it has been ended; the next sentence starts a new one."""
        if self._running is running:
            self._running = None
        # A broken pipe comes as the player exits: give it a moment to end, and say why it did.
        await asyncio.wait((running.exited,), timeout=EXIT_WAIT_S)
        exited = running.proc.returncode
        await running.kill()
        if exited is None:
            why = running.reason("it stopped taking its input")
        else:
            why = running.reason(f"exit status {exited}")
        return SpeakerError(f"player `{shlex.join(self.command)}` failed: {why}")
