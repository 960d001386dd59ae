"""A plain reverse proxy on loopback, as a home puts one in front of homeflow: `PREFIX/PATH` is
`upstream/PATH`, nothing added (no `X-Ingress-Path`), answers streamed back as they come; or, like Home
Assistant's Ingress from 2025.4 until core PR #160704, compressing every streamed text answer."""

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
    upstream: str, prefix: str, headers: Mapping[str, str] | None = None, *, compress: bool = False
) -> AsyncIterator[str]:
    """Serve `upstream` below `prefix` on this event loop, adding `headers` to every request (Home
    Assistant's Ingress adds `X-Ingress-Path`); yields the proxy's origin (`http://127.0.0.1:PORT`).
    With `compress`, an answer without a length (streamed) is compressed as HA 2025.4's ingress view
    does: `enable_compression()` for any type its `should_compress` takes, `text/event-stream` too."""
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
                if compress and "content-length" not in answer.headers and _compressible(answer):
                    response.enable_compression()  # deflate first, when the browser accepts it
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


def _compressible(answer: aiohttp.ClientResponse) -> bool:
    """Home Assistant's `should_compress` as core PR #160704 found it: `text/event-stream` compressed."""
    kind = answer.content_type
    if kind.startswith("image/"):
        return "svg" in kind
    if kind.startswith("application/"):
        return any(word in kind for word in ("json", "xml", "javascript"))
    return not kind.startswith(("video/", "audio/", "font/"))


@contextlib.contextmanager
def reverse_proxy(upstream: str, prefix: str = PREFIX, *, compress: bool = False) -> Iterator[str]:
    """`proxying` from an event loop in a thread of its own, for the browser tests."""
    ready = threading.Event()
    place: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()
        place["stop"] = (asyncio.get_running_loop(), stop)
        async with proxying(upstream, prefix, compress=compress) as url:
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
