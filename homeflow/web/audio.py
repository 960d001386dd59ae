"""Rendered speech for network speakers: `/audio/<sha256>.<mp3|wav>` from the speech cache, and nothing else.

No token: a Sonos or Cast speaker fetches the URL itself and cannot send one. The names are sha256 hashes
of what was rendered, so only someone who was given a URL can fetch that clip.
"""

from __future__ import annotations

from aiohttp import web

from homeflow.speech import SpeechCache
from homeflow.web.keys import ApiError

AUDIO = web.AppKey("audio", SpeechCache)
CONTENT_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav"}


async def clip(request: web.Request) -> web.FileResponse:
    """One cached clip, with Range support (speakers seek and resume by byte ranges)."""
    name = request.match_info["name"]
    path = request.app[AUDIO].file(name) if AUDIO in request.app else None
    if path is None:
        raise ApiError(404, f"no such clip: {name}")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": CONTENT_TYPES[path.suffix],
            "Cache-Control": "public, max-age=86400, immutable",  # a name is a hash of its content
            "X-Content-Type-Options": "nosniff",
        },
    )
