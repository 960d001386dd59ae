"""The live view behind a proxy that compresses the event stream, as Home Assistant's Ingress did from
2025.4 until core PR #160704: deflate holds every small event back, so the page must notice the silence,
say so, and follow the run another way; in real headless Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest
from playwright.sync_api import Browser

from .browser import chromium
from .mosquitto import Broker
from .proxy import PREFIX, reverse_proxy
from .web import TOKEN, Service, running

# At the tests' time scale of 20: a second of "Get ready", then a count of two seconds a number.
GUIDED = """\
name: Wall push
reps: {start: 3, max: 6, step: 3, good_sessions_to_progress: 1}
feedback: {ask: "How did that feel?", timeout: 100}
steps:
  - title: Get ready
    do:
      - wait: {seconds: 20, say: Stand an arm's length from the wall.}
  - title: Push
    do:
      - count: {say: "Push away {reps} times.", to: "{reps}", tempo: 40}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("compressed")
    with running(folder, broker, "compressed", routines={"push": GUIDED}) as the_service:
        yield the_service


async def _first_bytes(url: str) -> tuple[str, bytes]:
    """The event stream's encoding through the proxy, and what of it arrives within two seconds."""
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept-Encoding": "gzip, deflate"}
        async with http.get(url, headers=headers) as response:
            got = b""
            try:
                async with asyncio.timeout(2):
                    async for chunk in response.content.iter_any():
                        got += chunk
            except TimeoutError:
                pass
            return response.headers.get("Content-Encoding", ""), got


def test_the_proxy_holds_the_event_stream_back(service: Service) -> None:
    """The test's proxy does what Home Assistant 2025.4 did: deflate, and the first states held back."""
    with reverse_proxy(service.url, compress=True) as origin:
        encoding, got = asyncio.run(_first_bytes(f"{origin}{PREFIX}/api/events"))
    assert encoding == "deflate"
    assert len(got) < 10, got
