"""The dashboard in real headless Chromium against the real service: log in, steer a run, read history."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from homeflow.journal import RunStatus, open_journal
from homeflow.routine.guidance import SHOWN_ADVICE

from .conftest import REPO
from .mosquitto import Broker
from .web import TOKEN, Service, running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
PHONE = {"width": 390, "height": 844}
# Completed runs on these many days ago (two on day 3), for the chart and the history table.
PAST_DAYS = (1, 2, 3, 3, 8, 30, 89)
# Over in a moment at the tests' time scale of 20; its question stays open 5 s.
QUICK = """\
name: Quick stretch
reps: {start: 3, max: 6, step: 3, good_sessions_to_progress: 1}
feedback: {ask: "How did that feel?", timeout: 100}
steps:
  - title: Stretch
    do:
      - count: {say: "Stretch {reps} times.", to: "{reps}", tempo: 2}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
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
        yield launched
        launched.close()


def past_runs(journal_path: Path) -> None:
    """Completed back-massage runs on earlier days, as the journal would hold them."""
    with open_journal(journal_path) as journal:
        ids = []
        for reps in (5, 5, 5, 10, 10, 10, 10):
            run_id = journal.start_run("back-massage", "button:massage", reps, 250.0, {})
            journal.finish_run(run_id, RunStatus.COMPLETED)
            ids.append(run_id)
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    with sqlite3.connect(journal_path) as db:
        for run_id, days in zip(ids, reversed(PAST_DAYS), strict=True):
            started = now - timedelta(days=days)
            db.execute(
                "UPDATE runs SET started_at = ?, ended_at = ? WHERE id = ?",
                (started.isoformat(), (started + timedelta(minutes=4)).isoformat(), run_id),
            )
    db.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("dashboard")
    with running(folder, broker, "dash", time_scale=20, history=past_runs) as the_service:
        yield the_service


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    the_page = context.new_page()
    errors: list[str] = []
    the_page.on("pageerror", lambda error: errors.append(str(error)))
    the_page.set_default_timeout(5000)
    try:
        yield the_page
        ARTIFACTS.mkdir(exist_ok=True)
        the_page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
        assert errors == []
    finally:
        context.close()


def log_in(page: Page, service: Service, token: str = TOKEN) -> None:
    page.goto(service.url + "/")
    expect(page.locator("#login")).to_be_visible()
    page.fill("#token", token)
    page.click("#login button[type=submit]")


def test_log_in_start_pause_cancel_and_see_history(page: Page, service: Service) -> None:
    log_in(page, service)
    expect(page.locator("#link")).to_have_text("live")
    stretch = page.locator("article[data-routine=stretch]")
    stretch.get_by_role("button", name="Start").click()

    live = page.locator("#live-stretch")
    expect(live.locator(".step")).to_have_text("Warm up")
    expect(live.locator(".next")).to_have_text("Hold the stretch")
    expect(page.locator("#message")).to_have_text("Neck stretch: started by web")
    # The step moves on by itself, pushed over the event stream: no reload.
    expect(live.locator(".step")).to_have_text("Hold the stretch")
    expect(live.locator(".next")).to_have_text("Relax")
    expect(live.locator(".left")).to_have_text(re.compile(r"^\d+:\d\d$"))

    live.get_by_role("button", name="Pause").click()
    expect(live).to_have_attribute("data-state", "paused")
    expect(live.get_by_role("button", name="Resume")).to_be_visible()
    left = live.locator(".left").inner_text()
    page.wait_for_timeout(1100)  # a paused run's clock stands still
    expect(live.locator(".left")).to_have_text(left)

    live.get_by_role("button", name="Cancel").click()
    expect(live).to_have_count(0)
    first = page.locator("#history tbody tr").first
    expect(first.locator("td").nth(1)).to_have_text("Neck stretch")
    expect(first.locator("td").nth(2)).to_have_text("cancelled")
    expect(stretch.get_by_role("button", name="Start")).to_be_enabled()


def test_a_wrong_token_is_refused_and_the_right_one_kept_for_the_session(
    page: Page, service: Service
) -> None:
    log_in(page, service, token="not-the-token-0123456789")
    expect(page.locator("#login-error")).to_have_text("That token was not accepted.")
    expect(page.locator("#app")).to_be_hidden()
    page.fill("#token", TOKEN)
    page.click("#login button[type=submit]")
    expect(page.locator("#routines article")).to_have_count(2)
    page.reload()  # sessionStorage survives a reload: no second log-in
    expect(page.locator("#routines article")).to_have_count(2)
    expect(page.locator("#login")).to_be_hidden()


def test_plans_chart_and_history_fit_a_phone(page: Page, service: Service) -> None:
    log_in(page, service)
    massage = page.locator("article[data-routine=back-massage]")
    expect(massage.locator(".timeline span")).to_have_count(10)
    expect(page.locator("article[data-routine=stretch] .timeline span")).to_have_count(3)
    # The safety introduction is shown, open while the next run still owes it.
    safety = massage.locator("details.safety")
    expect(safety).to_have_attribute("open", "")
    expect(safety.locator("summary")).to_have_text("Safety: said before the next run starts")
    expect(safety.locator("li").nth(1)).to_contain_text("Stop at once if you feel sharp, shooting")
    expect(safety.locator("button")).to_have_text("Hear it now")
    massage.locator("details.plan summary").click()
    expect(massage.locator("ol.steps li").first).to_contain_text("Get ready")
    # One bar per day with sessions (day 3 had two), and the repetition line across them.
    expect(page.locator("#chart rect.session")).to_have_count(len(set(PAST_DAYS)))
    expect(page.locator("#chart polyline.reps")).to_have_count(1)
    expect(page.locator("#chart rect.session title").nth(3)).to_contain_text("2 sessions")
    expect(page.locator("#history tbody tr", has_text="Back massage")).to_have_count(len(PAST_DAYS))
    expect(massage.locator(".facts")).to_contain_text("next run 5 reps")
    expect(massage.locator(".facts")).to_contain_text("streak 3 d")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"


@pytest.fixture
def quick(tmp_path: Path, broker: Broker, prefix: str) -> Iterator[Service]:
    with running(tmp_path, broker, prefix, routines={"quick": QUICK}) as the_service:
        yield the_service


def test_the_question_is_answered_on_the_page_and_afterwards_in_history(page: Page, quick: Service) -> None:
    log_in(page, quick)
    card = page.locator("article[data-routine=quick]")
    expect(card.locator(".facts")).to_contain_text("next run 3 reps")
    card.get_by_role("button", name="Start").click()
    live = page.locator("#live-quick")
    expect(live).to_have_attribute("data-state", "asking")
    answers = live.get_by_role("group", name="How did it feel?")
    expect(answers.get_by_role("button")).to_have_text(["Felt good", "Too much", "It hurt"])
    expect(live.get_by_role("button", name="Pause")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "question-open-on-a-phone.png")
    answers.get_by_role("button", name="Felt good").click()
    expect(live).to_have_count(0)
    expect(card.locator(".facts")).to_contain_text("next run 6 reps")
    expect(page.locator("#history tbody tr td.feedback")).to_have_text(["felt good"])

    # Nobody answers the next run in time: its row in the history takes the answer afterwards, once.
    card.get_by_role("button", name="Start").click()
    expect(live).to_have_attribute("data-state", "asking")
    expect(live).to_have_count(0, timeout=15_000)
    late = page.locator("#history tbody tr").first.get_by_role("group", name="How did it feel?")
    late.get_by_role("button", name="It hurt").click()
    expect(page.locator("#history tbody tr td.feedback")).to_have_text(["it hurt", "felt good"])
    expect(page.locator("#history button")).to_have_count(0)
    expect(card.locator(".facts")).to_contain_text("next run 3 reps")
    expect(card.get_by_role("note")).to_have_text(SHOWN_ADVICE)
