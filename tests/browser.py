"""Real headless Chromium for the dashboard tests: a page that records every error a person's browser
would show (script errors, console errors, refused requests), screenshots, and axe-core's audit."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

from .conftest import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# The impacts that fail a test; axe's "moderate" and "minor" are advice.
BLOCKING = ("serious", "critical")

# Stands in for the Screen Wake Lock API, so a test can see when the page asks for the lock and lets it
# go: `window.wakeLog` lists "request:screen" and "release"; `window.wakeLock` is the lock held last.
FAKE_WAKE_LOCK = """
(() => {
  const log = [];
  window.wakeLog = log;
  class Lock extends EventTarget {
    constructor(type) { super(); this.type = type; this.released = false; }
    async release() {
      if (this.released) return;
      this.released = true;
      log.push("release");
      this.dispatchEvent(new Event("release"));
    }
  }
  const request = async (type) => { log.push(`request:${type}`); return (window.wakeLock = new Lock(type)); };
  const api = { request };
  Object.defineProperty(Navigator.prototype, "wakeLock", { configurable: true, get: () => api });
})();
"""


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (apt-get install chromium); .ci/run installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Watch:
    """What went wrong in a page, as its console would show it."""

    errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"script error: {error}"))
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.refused.append(f"{response.status} {response.request.method} {response.url}")


@contextlib.contextmanager
def open_page(
    browser: Browser,
    name: str,
    viewport: dict[str, int] = PHONE,
    *,
    wake_lock: bool = False,
    dark: bool = False,
) -> Iterator[tuple[Page, Watch]]:
    """A fresh browser tab (a phone's by default, in light colours unless `dark`), its screenshot saved
    as `name` at the end."""
    phone = viewport["width"] < 600
    context = browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
        color_scheme="dark" if dark else "light",
    )
    if wake_lock:
        context.add_init_script(FAKE_WAKE_LOCK)
    page = context.new_page()
    page.set_default_timeout(5000)
    watch = Watch()
    watch.attach(page)
    try:
        yield page, watch
        shoot(page, name, full_page=True)
    finally:
        context.close()


def shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=full_page)


def assert_accessible(page: Page, view: str) -> None:
    """axe-core (the copy bundled with axe-playwright-python, injected into the page) finds nothing
    serious or critical in the page as it is now."""
    results: dict[str, Any] = Axe().run(page).response
    blocking = [v for v in results["violations"] if v["impact"] in BLOCKING]
    report = "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']}\n    "
        + "\n    ".join(f"{node['target']}: {node.get('failureSummary', '')}" for node in v["nodes"][:5])
        for v in blocking
    )
    assert not blocking, f"axe on the {view} view:\n{report}"
