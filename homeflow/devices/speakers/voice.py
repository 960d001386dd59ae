"""One speaker's sentences, said in order by a task of its own: no speaker holds another's time.

The runner hands each sentence to every voice at its deadline and goes on. A voice says its sentences
one after the other; one that has fallen behind drops a sentence already late by more than its own
length (rather than talking over itself or piling up). A local player that fails prints the sentence
instead (one warning per run). A speaker that fails otherwise, or does not finish a
sentence within its length plus a grace, is down: one log line, and its sentences are skipped (each
reported as missed) until a cheap check says it answers again. A cut-off `say` is cancelled, which
kills a local player that hangs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from homeflow.clock import Clock
from homeflow.devices.base import Speaker
from homeflow.devices.speakers import restore_speakers
from homeflow.errors import SoundFailed, SpeakerError

log = logging.getLogger(__name__)

# A speaker that is down is asked whether it answers again at most this often, for at most this long.
RECHECK_S = 5.0
CHECK_TIMEOUT_S = 2.0

# (cue index, speaker name, why): a sentence of the plan that a speaker did not say.
Missed = Callable[[int, str, str], None]


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    due: float  # routine seconds on the run's clock
    length_s: float  # how long it takes to say (real seconds of audio)
    cue: int | None = None  # its index in the plan; None for a phrase said around the plan


class Voice:
    def __init__(
        self, speaker: Speaker, clock: Clock, on_missed: Missed | None = None, grace_s: float | None = None
    ) -> None:
        self.speaker = speaker
        self.clock = clock
        self.grace_s = speaker.say_grace_s if grace_s is None else grace_s
        self._on_missed = on_missed
        self._lines: asyncio.Queue[Line | None] = asyncio.Queue()
        self._saying: asyncio.Task[None] | None = None
        self._down: str | None = None  # why the speaker is down, or None while it answers
        self._checked_at = 0.0
        self._warned_behind = False
        self._warned_sound = False

    @property
    def name(self) -> str:
        return self.speaker.name

    def say(self, line: Line) -> None:
        self._lines.put_nowait(line)

    def interrupt(self) -> None:
        """Cut the sentence being said and forget those waiting (a cancel, a shutdown)."""
        while not self._lines.empty():
            if self._lines.get_nowait() is None:
                self._lines.put_nowait(None)  # a close stays a close
                break
        if self._saying is not None:
            self._saying.cancel()

    def close(self) -> None:
        """`run` ends once the sentences already given are said (or dropped)."""
        self._lines.put_nowait(None)

    async def run(self) -> None:
        try:
            while (line := await self._lines.get()) is not None:
                await self._say(line)
        finally:
            if self._saying is not None:
                self._saying.cancel()

    async def _say(self, line: Line) -> None:
        behind = (self.clock.now() - line.due) / self.clock.time_scale
        if behind > line.length_s:
            if not self._warned_behind:
                self._warned_behind = True
                log.warning(
                    "speaker %s is behind: sentences late by more than their length are dropped", self.name
                )
            self._missed(line, f"dropped: {behind:.1f} s late")
            return
        if self._down is not None and not await self._answers_again():
            self._missed(line, f"speaker down: {self._down}")
            return
        self._saying = asyncio.ensure_future(self._bounded(line))
        try:
            await asyncio.wait((self._saying,))
        finally:
            self._saying.cancel()
        if self._saying.cancelled():
            return  # interrupted: nothing went wrong with the speaker
        if isinstance(error := self._saying.exception(), SoundFailed):
            # Printed instead: the speaker is not down, the next sentence tries its player again.
            if not self._warned_sound:
                self._warned_sound = True
                log.warning("speaker %s: %s; its sentences are printed here (say: …)", self.name, error)
            self._missed(line, f"printed: {error}")
        elif error is not None:
            self._down = str(error) or type(error).__name__
            self._checked_at = self.clock.monotonic()
            log.warning(
                "speaker %s failed: %s; its sentences are skipped until it answers again",
                self.name,
                self._down,
            )
            self._missed(line, self._down)

    async def _bounded(self, line: Line) -> None:
        limit = line.length_s + self.grace_s
        try:
            async with asyncio.timeout(limit):
                await self.speaker.say(line.text)
        except TimeoutError:
            raise SpeakerError(f"no answer within {limit:.1f} s") from None

    async def _answers_again(self) -> bool:
        if self.clock.monotonic() - self._checked_at < RECHECK_S:
            return False
        self._checked_at = self.clock.monotonic()
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await self.speaker.check()
        except Exception as exc:
            log.debug("speaker %s still down: %s", self.name, exc or type(exc).__name__)
            return False
        log.info("speaker %s answers again", self.name)
        self._down = None
        return True

    def _missed(self, line: Line, why: str) -> None:
        log.debug("speaker %s did not say %r: %s", self.name, line.text, why)
        if line.cue is not None and self._on_missed is not None:
            self._on_missed(line.cue, self.name, why)


async def say_once(speakers: Sequence[Speaker], text: str, clock: Clock) -> None:
    """Say `text` outside a run (a refusal, an invitation) on every speaker at once, each bounded like
    a run's sentence; then give the speakers back what they were playing."""
    voices = [Voice(speaker, clock) for speaker in speakers]
    lengths = await asyncio.gather(*(_length(s, text) for s in speakers))
    for voice, length in zip(voices, lengths, strict=True):
        voice.say(Line(text, clock.now(), length))
        voice.close()
    await asyncio.gather(*(voice.run() for voice in voices))
    await restore_speakers(speakers)


async def _length(speaker: Speaker, text: str) -> float:
    try:
        return (await speaker.prepare((text,)))[text]
    except Exception as exc:
        log.warning("speaker %s cannot prepare %r: %s", speaker.name, text, exc)
        return 0.0
