"""A plain reverse proxy on loopback, as a home puts one in front of homeflow: `PREFIX/PATH` is
`upstream/PATH`, nothing added (no `X-Ingress-Path`), answers streamed back as they come."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator, Mapping

import aiohttp
from aiohttp import web

PREFIX = "/some/prefix"
# Hop-by-hop headers, and those the proxy's own client and server set again.
_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


@contextlib.asynccontextmanager
async def proxying(
    upstream: str, prefix: str, headers: Mapping[str, str] | None = None
) -> AsyncIterator[str]:
    """Serve `upstream` below `prefix` on this event loop, adding `headers` to every request (Home
    Assistant's Ingress adds `X-Ingress-Path`); yields the proxy's origin (`http://127.0.0.1:PORT`)."""
    async with aiohttp.ClientSession(auto_decompress=False) as client:

        async def forward(request: web.Request) -> web.StreamResponse:
            sent = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
            async with client.request(
                request.method,
                upstream.rstrip("/") + (request.match_info["path"] or "/"),
                headers=sent | dict(headers or {}),
                params=request.query,
                data=await request.read(),
                allow_redirects=False,
            ) as answer:
                response = web.StreamResponse(
                    status=answer.status,
                    headers={k: v for k, v in answer.headers.items() if k.lower() not in _HOP},
                )
                await response.prepare(request)
                async for chunk in answer.content.iter_any():
                    await response.write(chunk)
                return response

        app = web.Application()
        app.router.add_route("*", prefix + "{path:.*}", forward)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()


@contextlib.contextmanager
def reverse_proxy(upstream: str, prefix: str = PREFIX) -> Iterator[str]:
    """`proxying` from an event loop in a thread of its own, for the browser tests."""
    ready = threading.Event()
    place: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()
        place["stop"] = (asyncio.get_running_loop(), stop)
        async with proxying(upstream, prefix) as url:
            place["url"] = url
            ready.set()
            await stop.wait()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            place["error"] = exc
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="proxy", daemon=True)
    thread.start()
    try:
        assert ready.wait(10) and "error" not in place, place.get("error")
        yield str(place["url"])
    finally:
        if "stop" in place:
            loop, stop = place["stop"]  # type: ignore[misc]
            loop.call_soon_threadsafe(stop.set)
        thread.join(10)
