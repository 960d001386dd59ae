"""The page guides a run by itself, for a home without a speaker: the sentence being said, large; the
count; the time left in the step; what comes next; the screen kept awake. On a phone and a desktop, in
real headless Chromium, audited by axe-core, and below a reverse proxy's path prefix."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from .browser import DESKTOP, PHONE, assert_accessible, open_page, shoot
from .mosquitto import Broker
from .proxy import PREFIX, reverse_proxy
from .web import TOKEN, Service, running

# At the tests' time scale of 20: "Get ready" takes about a second, each number of a count two.
GUIDED = """\
name: Ball circles
description: Circles with a ball against a wall.
reps: {start: 5, max: 10, step: 5, good_sessions_to_progress: 2}
steps:
  - title: Get ready
    do:
      - wait: {seconds: 20, say: Stand with your back to the wall.}
  - title: Circles one way
    do:
      - count: {say: "Make slow circles, {reps} one way.", to: "{reps}", tempo: 40}
  - title: Circles the other way
    do:
      - count: {say: "Now {reps} circles the other way.", to: "{reps}", tempo: 40}
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("guide")
    with running(folder, broker, "guide", routines={"circles": GUIDED}) as the_service:
        yield the_service


def sign_in(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#login")).to_be_visible()
    page.fill("#token", TOKEN)
    page.click("#login button[type=submit]")
    expect(page.locator("#link")).to_have_text("live")


@pytest.mark.parametrize(("size", "viewport", "dark"), [("phone", PHONE, False), ("desktop", DESKTOP, True)])
def test_a_run_is_guided_on_the_page(
    browser: Browser, service: Service, size: str, viewport: dict[str, int], dark: bool
) -> None:
    with open_page(browser, f"guided-{size}-end", viewport, wake_lock=True, dark=dark) as (page, watch):
        sign_in(page, service.url + "/")
        card = page.locator("article[data-routine=circles]")
        expect(card.locator(".towards")).to_have_text("0 of 2 good sessions towards 10")
        assert_accessible(page, f"idle ({size})")
        assert page.evaluate("window.wakeLog") == []  # nothing to keep awake for

        card.get_by_role("button", name="Start").click()
        live = page.locator("#live-circles")
        sentence = live.locator(".sentence")
        expect(sentence).to_have_text("Stand with your back to the wall.")
        expect(live.locator(".position")).to_have_text("Step 1 of 3")
        expect(live.locator(".next")).to_have_text("Circles one way")
        # The count, as it is said, under the sentence that introduced it; the step's time counts down.
        expect(live.locator(".count")).to_have_text("2 of 5", timeout=10_000)
        expect(sentence).to_have_text("Make slow circles, 5 one way.")
        expect(live.locator(".step")).to_have_text("Circles one way")
        expect(live.locator(".position")).to_have_text("Step 2 of 3")
        expect(live.locator(".next")).to_have_text("Circles the other way")
        expect(live.locator(".left")).to_have_text(re.compile(r"^0:0[1-9]$"))
        size_px = float(sentence.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
        assert size_px >= 24, f"the sentence is {size_px} px: too small to read from a step away"
        expect(sentence).to_be_in_viewport()
        expect(live.locator(".count")).to_be_in_viewport()
        expect(page.get_by_text("running", exact=True)).to_have_count(1)
        shoot(page, f"guided-{size}-counting")
        assert_accessible(page, f"running ({size})")

        # The screen is kept awake while the run is live, asked again when the page is back in view
        # (a browser lets the lock go when the page is hidden), and let go when the run ends.
        assert page.evaluate("window.wakeLog") == ["request:screen"]
        page.evaluate("window.wakeLock.release()")
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        page.wait_for_function("window.wakeLog.length === 3")
        assert page.evaluate("window.wakeLog") == ["request:screen", "release", "request:screen"]
        live.get_by_role("button", name="Cancel").click()
        live.get_by_role("button", name="Really stop?").click()
        expect(live).to_have_count(0)
        assert page.evaluate("window.wakeLog")[-1] == "release"
        expect(page.locator("#history tbody tr").first.locator("td").nth(2)).to_have_text("cancelled")
        expect(page.locator("#chart rect.run-cancelled")).not_to_have_count(0)
    assert (watch.errors, watch.refused) == ([], [])


def test_the_page_works_below_a_reverse_proxys_path_prefix(browser: Browser, service: Service) -> None:
    """A proxy that serves homeflow at /some/prefix/ and tells it nothing: every URL the page asks for
    stays below the prefix."""
    with reverse_proxy(service.url) as origin, open_page(browser, "below-a-path-prefix") as (page, watch):
        outside: list[str] = []

        def check(url: str) -> None:
            if not urlsplit(url).path.startswith(PREFIX + "/"):
                outside.append(url)

        page.on("request", lambda request: check(request.url))
        sign_in(page, f"{origin}{PREFIX}/")
        page.locator("article[data-routine=circles]").get_by_role("button", name="Start").click()
        live = page.locator("#live-circles")
        expect(live.locator(".sentence")).to_have_text("Stand with your back to the wall.")
        expect(live.locator(".count")).to_have_text("1 of 5", timeout=10_000)  # over the event stream
        live.get_by_role("button", name="Cancel").click()
        live.get_by_role("button", name="Really stop?").click()
        expect(live).to_have_count(0)
        expect(page.locator("#chart svg")).to_have_count(1)
    assert outside == []
    assert (watch.errors, watch.refused) == ([], [])
