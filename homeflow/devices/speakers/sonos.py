"""A Sonos player, through soco: snapshot, announcement volume, play homeflow's clip URL, restore.

The snapshot is taken before the first announcement and given back by `restore()` once the run is over,
not around every sentence: a spoken count says a number every few seconds, and resuming the music in
between (a dozen UPnP calls each time) would be slower than the count and sound like a stutter.

soco is synchronous (requests), so each exchange runs in a worker thread with a bounded timeout.
The sonos-websocket audioClip path (music ducks under the clip) is not used: it needs the player's
local API key and S2 firmware, and no player could answer it here; soco works on every player.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import tzinfo
from typing import Any

from homeflow.clock import Clock
from homeflow.devices.speakers.clips import NETWORK_GRACE_S, Clips, ClipServer, reachable, volume_now
from homeflow.errors import SpeakerError
from homeflow.settings.model import SonosSpeaker

log = logging.getLogger(__name__)

EXTRA = "sonos"
# Well under a run's restore budget; soco's own default (20 s) would hold a run far too long.
REQUEST_TIMEOUT_S = 3.0
SONOS_PORT = 1400  # its UPnP server
CLIP_TITLE = "homeflow"


def library_problem() -> str | None:
    """Why soco cannot be used, or None."""
    if importlib.util.find_spec("soco") is None or importlib.util.find_spec("lameenc") is None:
        return f"a sonos speaker needs soco and lameenc: pip install 'homeflow[{EXTRA}]'"
    return None


class SonosSpeakerDevice:
    def __init__(
        self, settings: SonosSpeaker, server: ClipServer, clock: Clock, tz: tzinfo | None = None
    ) -> None:
        self.name = settings.name
        self.say_grace_s = NETWORK_GRACE_S
        self._settings = settings
        self._server = server
        self._clips = Clips(server.cache, settings.voice, settings.rate_wpm, settings.lead_in_s)
        self._clock = clock
        self._tz = tz
        self._snapshot: Any = None
        self._volume_set: int | None = None
        self._lock = asyncio.Lock()

    async def prepare(self, texts: Iterable[str]) -> Mapping[str, float]:
        return await self._clips.prepare(texts)

    async def say(self, text: str) -> None:
        clip = await self._clips.get(text)
        url = await self._server.url(clip)
        volume = volume_now(self._settings, self._tz)
        async with self._lock:
            started = self._clock.now()
            log.info("say on %s: %s", self.name, text)
            await self._blocking(self._play, url, None if volume is None else round(volume * 100))
            await self._clock.sleep_until(started + clip.duration_s)

    async def check(self) -> None:
        await reachable(self._settings.host, SONOS_PORT, "Sonos")

    async def restore(self) -> None:
        """Give back what played before the first announcement, where it was, at its volume."""
        async with self._lock:
            snapshot, self._snapshot, self._volume_set = self._snapshot, None, None
            if snapshot is not None:
                await self._blocking(snapshot.restore)

    def _play(self, url: str, volume: int | None) -> None:
        # Imported here: soco is an optional extra, and homeflow runs without it when no Sonos is set up.
        import soco  # noqa: PLC0415
        from soco.snapshot import Snapshot  # noqa: PLC0415

        soco.config.REQUEST_TIMEOUT = REQUEST_TIMEOUT_S
        player = soco.SoCo(self._settings.host)
        if self._snapshot is None:
            snapshot = Snapshot(player)
            snapshot.snapshot()
            self._snapshot = snapshot
        if volume is not None and volume != self._volume_set:
            player.volume = volume
            self._volume_set = volume
        player.play_uri(url, title=CLIP_TITLE)

    async def _blocking(self, work: Callable[..., None], *args: Any) -> None:
        try:
            await asyncio.to_thread(work, *args)
        except Exception as exc:  # soco raises requests', lxml's and its own errors alike
            raise SpeakerError(f"Sonos at {self._settings.host}: {describe(exc)}") from None


def describe(exc: Exception) -> str:
    """One line for what went wrong talking to a player."""
    name = type(exc).__name__
    if name in ("ConnectTimeout", "ReadTimeout", "Timeout"):
        return f"no answer within {REQUEST_TIMEOUT_S:g} s"
    if name == "ConnectionError":
        return "cannot connect (is it on, is the address right?)"
    text = " ".join(str(exc).split())[:160]
    return f"{name}: {text}" if text else name
