"""The live view behind a proxy that compresses the event stream, as Home Assistant's Ingress did from
2025.4 until core PR #160704: deflate holds every small event back, so the page must notice the silence,
say so, and follow the run another way; in real headless Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest
from playwright.sync_api import Browser, expect

from .browser import open_page
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


def test_a_run_is_followed_through_a_compressing_proxy(browser: Browser, service: Service) -> None:
    """The badge never claims "live" while nothing arrives; the sentence, the count and the answer
    buttons still appear during the run."""
    with (
        reverse_proxy(service.url, compress=True) as origin,
        open_page(browser, "compressed") as (page, watch),
    ):
        page.goto(f"{origin}{PREFIX}/")
        page.fill("#token", TOKEN)
        page.click("#login button[type=submit]")
        link = page.locator("#link")
        expect(link).to_have_text("connecting…")
        expect(link).to_have_text("updated every 2 s", timeout=10_000)
        page.locator("article[data-routine=push]").get_by_role("button", name="Start").click()
        live = page.locator("#live-push")
        expect(live.locator(".sentence")).to_have_text("Push away 3 times.", timeout=10_000)
        expect(live.locator(".count")).to_have_text("2 of 3", timeout=10_000)
        answers = live.get_by_role("group", name="How did that feel?")  # the routine's own question
        expect(answers.get_by_role("button")).to_have_text(
            ["Felt good", "Too much", "It hurt"], timeout=15_000
        )
        answers.get_by_role("button", name="Felt good").click()
        expect(page.locator("#history tbody tr").first.locator("td").nth(2)).to_have_text("completed")
        expect(link).not_to_have_text("live")
    assert (watch.errors, watch.refused) == ([], [])
