"""Server-sent events: every routine's state as it changes, for the dashboard's live view."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from homeflow import jsontext
from homeflow.web.api import now_text
from homeflow.web.keys import CONDUCTOR, STREAMS, StreamQueue

# A comment line this often keeps proxies from closing an idle stream and finds clients that left; the
# page takes a few missed ones as a stream a proxy holds back (one that compresses it) and polls instead.
HEARTBEAT_S = 5.0
# A client this far behind is stalled: its stream ends, and on reconnecting it gets fresh states.
QUEUE_LIMIT = 100


async def stream(request: web.Request) -> web.StreamResponse:
    """`event: state` with `{"routine", "state", "now"}`: first every routine's state, then each change."""
    conductor = request.app[CONDUCTOR]
    streams = request.app[STREAMS]
    queue: StreamQueue = asyncio.Queue()

    def on_state(routine_id: str, state: dict[str, Any]) -> None:
        queue.put_nowait(_event(routine_id, state) if queue.qsize() < QUEUE_LIMIT else None)

    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # a reverse proxy must pass events on at once
        }
    )
    await response.prepare(request)
    streams.add(queue)
    unsubscribe = conductor.status.watch(on_state)
    try:
        # Heard at once, even with no routine to tell about: how the page knows the stream gets through.
        await response.write(b": hello\n\n")
        for routine_id in conductor.rooms:
            queue.put_nowait(_event(routine_id, conductor.status.live(routine_id)))
        while True:
            try:
                async with asyncio.timeout(HEARTBEAT_S):
                    item = await queue.get()
            except TimeoutError:
                await response.write(b": still here\n\n")
                continue
            if item is None:
                break
            await response.write(f"event: state\ndata: {jsontext.dumps(item)}\n\n".encode())
    except ConnectionResetError:
        pass  # the client left; nothing to tell anyone
    finally:
        unsubscribe()
        streams.discard(queue)
    return response


def _event(routine_id: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"routine": routine_id, "state": state, "now": now_text()}


async def close_streams(app: web.Application) -> None:
    """End every stream at shutdown, so the server need not wait for clients to hang up."""
    for queue in app[STREAMS]:
        queue.put_nowait(None)
