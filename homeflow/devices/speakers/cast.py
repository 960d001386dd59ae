"""A Google Cast speaker (Nest, Chromecast Audio, cast-enabled soundbars), through pychromecast.

The default media receiver plays homeflow's clip URL; the volume the speaker had before the first
announcement is set back by `restore()`. pychromecast is synchronous (a socket thread), so each
exchange runs in a worker thread, bounded by its own timeouts.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import tzinfo
from typing import Any

from homeflow.clock import Clock
from homeflow.devices.speakers.clips import NETWORK_GRACE_S, Clips, ClipServer, reachable, volume_now
from homeflow.errors import SpeakerError
from homeflow.settings.model import CastSpeaker

log = logging.getLogger(__name__)

EXTRA = "cast"
TIMEOUT_S = 5.0
MP3 = "audio/mpeg"


def library_problem() -> str | None:
    """Why pychromecast cannot be used, or None."""
    if importlib.util.find_spec("pychromecast") is None or importlib.util.find_spec("lameenc") is None:
        return f"a cast speaker needs pychromecast and lameenc: pip install 'homeflow[{EXTRA}]'"
    return None


def chromecast(settings: CastSpeaker) -> Any:
    """The library's Chromecast for an address, made without mDNS (the address is configured)."""
    # Imported here: pychromecast is an optional extra.
    from pychromecast import Chromecast  # noqa: PLC0415
    from pychromecast.const import CAST_TYPE_AUDIO  # noqa: PLC0415
    from pychromecast.models import CastInfo, HostServiceInfo  # noqa: PLC0415

    # A stable id per address: pychromecast keys its state by uuid, and mDNS, which would give the
    # real one, does not cross subnets or containers.
    device_id = uuid.uuid5(uuid.NAMESPACE_DNS, f"{settings.host}:{settings.port}")
    info = CastInfo(
        {HostServiceInfo(settings.host, settings.port)},
        device_id,
        None,
        settings.name,
        settings.host,
        settings.port,
        CAST_TYPE_AUDIO,  # given, so the library does not ask the device's HTTP API for it
        None,
    )
    return Chromecast(info, tries=1, timeout=TIMEOUT_S, retry_wait=0.5)


class CastSpeakerDevice:
    def __init__(
        self, settings: CastSpeaker, server: ClipServer, clock: Clock, tz: tzinfo | None = None
    ) -> None:
        self.name = settings.name
        self.say_grace_s = NETWORK_GRACE_S
        self._settings = settings
        self._server = server
        self._clips = Clips(server.cache, settings.voice, settings.rate_wpm, settings.lead_in_s)
        self._clock = clock
        self._tz = tz
        self._cast: Any = None
        self._volume_before: float | None = None
        self._volume_set: float | None = None
        self._lock = asyncio.Lock()

    async def prepare(self, texts: Iterable[str]) -> Mapping[str, float]:
        return await self._clips.prepare(texts)

    async def say(self, text: str) -> None:
        clip = await self._clips.get(text)
        url = await self._server.url(clip)
        volume = volume_now(self._settings, self._tz)
        async with self._lock:
            if self._cast is None:
                await self._reachable()
            started = self._clock.now()
            log.info("say on %s: %s", self.name, text)
            await self._blocking(self._play, url, volume)
            await self._clock.sleep_until(started + clip.duration_s)

    async def restore(self) -> None:
        """Set back the volume from before the first announcement, and let the connection go."""
        async with self._lock:
            # Only a volume homeflow changed is given back; the listener may have turned it since.
            before = self._volume_before if self._volume_set is not None else None
            self._volume_before, self._volume_set = None, None
            cast, self._cast = self._cast, None
            if cast is not None:
                await self._blocking(_give_back, cast, before)

    async def check(self) -> None:
        await self._reachable()

    async def _reachable(self) -> None:
        """Fail fast and cleanly when nothing answers: pychromecast's worker thread gives up on a first
        connection without closing its sockets, and its caller only learns of it by a timeout."""
        await reachable(self._settings.host, self._settings.port, "Cast speaker")

    def _play(self, url: str, volume: float | None) -> None:
        if self._cast is None:
            cast = chromecast(self._settings)
            try:
                cast.wait(timeout=TIMEOUT_S)
            except BaseException:
                cast.disconnect(timeout=0)
                raise
            self._cast = cast
            self._volume_before = cast.status.volume_level if cast.status else None
        if volume is not None and volume != self._volume_set:
            self._cast.set_volume(volume, timeout=TIMEOUT_S)
            self._volume_set = volume
        controller = self._cast.media_controller
        controller.play_media(url, MP3, title="homeflow", stream_type="BUFFERED")
        # The media session starts once the speaker plays the clip; a lost connection or a speaker
        # that never fetches it leaves it unset.
        if not controller.session_active_event.wait(timeout=TIMEOUT_S):
            raise TimeoutError("the media did not start playing")

    async def _blocking(self, work: Callable[..., None], *args: Any) -> None:
        try:
            await asyncio.to_thread(work, *args)
        except Exception as exc:  # pychromecast raises its own errors, OSError and TimeoutError
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise SpeakerError(f"Cast speaker at {self._settings.host}: {reason}") from None


def _give_back(cast: Any, volume: float | None) -> None:
    try:
        if volume is not None:
            cast.set_volume(volume, timeout=TIMEOUT_S)
    finally:
        cast.disconnect(timeout=TIMEOUT_S)
