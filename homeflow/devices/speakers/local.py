"""The `local` speaker: clips from the speech cache played on this host, streamed to one player
process (homeflow.devices.speakers.stream) or, with `player`, by a command given each clip's file."""

from __future__ import annotations

import asyncio
import logging
import shlex
import tempfile
import wave
from collections.abc import Iterable, Mapping
from pathlib import Path

from homeflow.devices.speakers.stream import PlayerMissing, StreamPlayer, kill_group, read_pcm, spawn_player
from homeflow.errors import SoundFailed, SpeakerError
from homeflow.routine.plan import estimate_speech_s
from homeflow.settings.model import LocalSpeaker
from homeflow.speech import Clip, SpeechCache, engine_problem, last_line

log = logging.getLogger(__name__)

SILENCE_RATE = 22050
# A local player starts at once: a sentence not done a second after its length is a hung player.
LOCAL_GRACE_S = 1.0


class LocalSpeakerDevice:
    """Speaks through one streaming player (default `aplay` reading raw PCM), or a player command given
    a file per sentence; without the speech engine, or when the player fails, each sentence is printed."""

    def __init__(self, settings: LocalSpeaker, cache: SpeechCache) -> None:
        self.name = settings.name
        self.say_grace_s = LOCAL_GRACE_S
        self._settings = settings
        self._cache = cache
        self._clips: dict[str, Clip] = {}
        self._lock = asyncio.Lock()
        # The command given each clip's file, or None: one process fed every clip's frames.
        self._player = settings.player
        self._stream = StreamPlayer(settings.stream_player) if settings.player is None else None
        # Without the speech engine the steps are only logged, paced by estimated speech lengths, so a
        # machine without espeak-ng still runs routines (`homeflow run` warns once).
        self.printed_only = engine_problem(cache.engine) is not None

    async def prepare(self, texts: Iterable[str]) -> Mapping[str, float]:
        """Render every distinct text ahead of a run; return each one's length in seconds."""
        if self.printed_only:
            return {text: estimate_speech_s(text) for text in texts}
        s = self._settings
        clips = await self._cache.render_all(texts, s.voice, s.rate_wpm, s.lead_in_s)
        self._clips.update(clips)
        return {text: clip.duration_s for text, clip in clips.items()}

    async def say(self, text: str) -> None:
        """Play the clip for `text` and return once it has been played. Every sentence is printed
        (`say: …`), so a player that fails (missing, no sound device, exited) raises `SoundFailed`: the
        run's voice warns once and goes on, printed, trying the player again at each sentence."""
        if self.printed_only:
            log.info("say: %s", text)
            return
        clip = self._clips.get(text)
        if clip is None:
            log.debug("speaker %s: rendering unprepared text %r", self.name, text)
            s = self._settings
            clip = self._clips[text] = await self._cache.render(text, s.voice, s.rate_wpm, s.lead_in_s)
        async with self._lock:
            log.info("say: %s", text)
            if failure := await self._say(clip.path):
                raise SoundFailed(failure)

    async def _say(self, path: Path) -> str | None:
        """Play a clip; why the player failed (`player `…` failed: why`), or None."""
        failed = f"player `{shlex.join(self._settings.command)}` failed"
        if self._stream is None:
            failure = await self._play(path)
            return None if failure is None else f"{failed}: {failure}"
        try:
            await self._stream.play(read_pcm(path))
        except PlayerMissing as exc:
            return f"{failed}: {exc}"
        except SpeakerError as exc:  # it exited (no sound device), stopped reading, or a clip is unreadable
            return str(exc)
        return None

    async def check(self) -> None:
        """The player plays a moment of silence (so it can open the sound device), within the voice's
        check time; a player that hangs is killed when that time runs out."""
        if self.printed_only:
            return
        if self._stream is not None:
            async with self._lock:
                try:
                    await self._stream.check()
                except PlayerMissing as exc:
                    raise SpeakerError(f"player `{shlex.join(self._stream.command)}` failed: {exc}") from None
        elif failure := await self._play(silence(self._cache.folder)):
            raise SpeakerError(f"player `{shlex.join(self._settings.command)}` failed: {failure}")

    async def aclose(self) -> None:
        """Close the streaming player, if one runs (when the service stops)."""
        if self._stream is not None:
            await self._stream.aclose()

    async def _play(self, path: Path) -> str | None:
        """Play `path` by a player given the file; why the player failed, or None."""
        assert self._player is not None
        # stderr goes to a file, not a pipe: a pipe held open by a killed player's children would
        # outlive the process and leak.
        with tempfile.TemporaryFile() as errors:
            command = [*self._player, str(path)]
            try:
                proc = await spawn_player(command, errors, stdin=asyncio.subprocess.DEVNULL)
            except OSError as exc:
                return str(exc)
            try:
                await proc.wait()
            finally:
                await kill_group(proc)
            if proc.returncode != 0:
                errors.seek(0)
                return last_line(errors.read()) or f"exit status {proc.returncode}"
            return None


def silence(folder: Path) -> Path:
    """A WAV file of 50 ms of silence in `folder`, written once."""
    path = folder / "silence.wav"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".part")
        with wave.open(str(part), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SILENCE_RATE)
            out.writeframes(b"\0\0" * (SILENCE_RATE // 20))
        part.replace(path)
    return path
