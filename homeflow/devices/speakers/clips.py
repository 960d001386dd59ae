"""What network speakers share: rendered clips and their URLs on homeflow's server, and the volume to use."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo

from homeflow.errors import SpeakerError
from homeflow.settings.model import CastSpeaker, HomeAssistantSpeaker, QuietHours, SonosSpeaker
from homeflow.speech import Clip, SpeechCache

NetworkSpeaker = HomeAssistantSpeaker | SonosSpeaker | CastSpeaker


CONNECT_TIMEOUT_S = 3.0
# A network speaker fetches and buffers the clip before it plays: seconds beyond the sentence's length.
NETWORK_GRACE_S = 10.0


async def reachable(host: str, port: int, what: str) -> None:
    """Raise `SpeakerError` unless something accepts a TCP connection at `host:port` (no sound made)."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as exc:
        # asyncio puts the address into strerror; the bare reason reads better after our own.
        errno = getattr(exc, "errno", None)
        reason = os.strerror(errno).lower() if errno else f"no answer within {CONNECT_TIMEOUT_S:g} s"
        raise SpeakerError(f"{what} at {host}:{port}: cannot connect: {reason}") from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


class ClipServer:
    """Where speakers fetch clips: `<base>/audio/<name>`. The base is `http.public_url`, or the web
    server's own address once it listens, so it is set after start-up rather than given here."""

    def __init__(self, cache: SpeechCache, base: str | None = None) -> None:
        self.cache = cache
        self.base = base

    async def url(self, clip: Clip) -> str:
        """The clip's MP3 URL, encoding the MP3 on first use."""
        if self.base is None:
            raise SpeakerError("the web server is not listening, so speakers cannot fetch clips")
        mp3 = await self.cache.mp3(clip)
        return f"{self.base}/audio/{mp3.name}"


class Clips:
    """One speaker's sentences, rendered with its voice and kept with their lengths."""

    def __init__(self, cache: SpeechCache, voice: str, rate_wpm: int, lead_in_s: float) -> None:
        self._cache = cache
        self._voice = (voice, rate_wpm, lead_in_s)
        self._clips: dict[str, Clip] = {}

    async def prepare(self, texts: Iterable[str]) -> Mapping[str, float]:
        clips = await self._cache.render_all(texts, *self._voice)
        self._clips.update(clips)
        return {text: clip.duration_s for text, clip in clips.items()}

    async def get(self, text: str) -> Clip:
        """The clip for `text`, rendered now if no plan prepared it (a schedule's invitation)."""
        clip = self._clips.get(text)
        if clip is None:
            clip = self._clips[text] = await self._cache.render(text, *self._voice)
        return clip


def volume_now(settings: NetworkSpeaker, tz: tzinfo | None, now: datetime | None = None) -> float | None:
    """The announcement volume at this moment: the quiet hours' inside their window, else `volume`."""
    quiet: QuietHours | None = settings.quiet_hours
    if quiet is not None:
        local = (now or datetime.now(tz)).astimezone(tz)
        if quiet.covers(local.time()):
            return quiet.volume
    return settings.volume
