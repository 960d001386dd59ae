"""The dashboard in real headless Chromium against the real service: log in, steer a run, read history."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from homeflow.journal import RunStatus, open_journal
from homeflow.language import ENGLISH
from homeflow.routine.guidance import SHOWN_ADVICE

from .browser import PHONE, Watch, assert_accessible, open_page, shoot
from .mosquitto import Broker
from .web import TOKEN, Service, running

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
def watched(browser: Browser, request: pytest.FixtureRequest) -> Iterator[tuple[Page, Watch]]:
    """A phone's tab; at the end nothing went wrong in it that its console would show."""
    with open_page(browser, request.node.name) as (the_page, watch):
        yield the_page, watch
    assert watch.errors == []
    assert watch.refused == []


@pytest.fixture
def page(watched: tuple[Page, Watch]) -> Page:
    return watched[0]


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
    expect(live.locator(".sentence")).to_have_text("Roll your shoulders.")
    expect(live.locator(".next")).to_have_text("Hold the stretch")
    expect(page.locator("#message")).to_have_text("Neck stretch: started")
    # The step moves on by itself, pushed over the event stream: no reload.
    expect(live.locator(".step")).to_have_text("Hold the stretch")
    expect(live.locator(".sentence")).to_have_text("Tilt your head, 3 breaths.")
    expect(live.locator(".position")).to_have_text("Step 2 of 3")
    expect(live.locator(".next")).to_have_text("Relax")
    expect(live.locator(".left")).to_have_text(re.compile(r"^0:(0\d|1[01])$"))
    # The run's state is shown once: in its live card, not again on the routine's card.
    expect(page.get_by_text("running", exact=True)).to_have_count(1)
    expect(stretch.get_by_role("button", name="Start")).to_have_count(0)

    live.get_by_role("button", name="Pause").click()
    expect(live).to_have_attribute("data-state", "paused")
    expect(live.get_by_role("button", name="Resume")).to_be_visible()
    left = live.locator(".left").inner_text()
    page.wait_for_timeout(1100)  # a paused run's clock stands still
    expect(live.locator(".left")).to_have_text(left)
    live.get_by_role("button", name="Resume").click()
    expect(live).to_have_attribute("data-state", "running")
    expect(live.locator(".left")).not_to_have_text(left, timeout=2000)  # and goes on when resumed
    assert live.locator(".left").inner_text() < left

    live.get_by_role("button", name="Cancel").click()  # asks first: a stray tap stops nothing
    live.get_by_role("button", name="Really stop?").click()
    expect(live).to_have_count(0)
    first = page.locator("#history tbody tr").first
    expect(first.locator("td").nth(1)).to_have_text("Neck stretch")
    expect(first.locator("td").nth(2)).to_have_text("cancelled")
    expect(first.locator("td.feedback")).to_have_text("–")
    expect(stretch.get_by_role("button", name="Start")).to_be_enabled()


def test_a_wrong_token_is_refused_and_the_right_one_kept_for_the_session(
    watched: tuple[Page, Watch], service: Service
) -> None:
    page, watch = watched
    page.goto(service.url + "/")
    expect(page.locator("#login")).to_be_visible()
    # Nothing was asked of the API that needs the token before the person signed in.
    assert (watch.refused, watch.errors) == ([], [])
    page.fill("#token", "not-the-token-0123456789")
    page.click("#login button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("That token was not accepted.")
    expect(page.locator("#app")).to_be_hidden()
    assert all(line.startswith("401 GET ") for line in watch.refused), watch.refused
    watch.refused.clear()
    watch.errors.clear()  # the browser logs each refused request
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
    # A mark for every run (two on day 3, one above the other), marked by its answer (none here), and
    # the repetition line across the days.
    expect(page.locator("#chart rect.run-none")).to_have_count(len(PAST_DAYS))
    expect(page.locator("#chart polyline.reps")).to_have_count(1)
    expect(page.locator("#chart rect.run-none title").nth(3)).to_contain_text("completed, 10 reps, no answer")
    rows = page.locator("#history tbody tr", has_text="Back massage")
    expect(rows).to_have_count(len(PAST_DAYS))
    expect(rows.locator("td.feedback").last).to_have_text("no answer")
    expect(massage.locator(".facts")).to_contain_text("next run 5 reps")
    expect(massage.locator(".towards")).to_have_text("0 of 2 good sessions towards 10")
    expect(massage.locator(".streak")).to_have_text("streak 3 days")
    # Drawn at the width it is shown at, after signing in: not 720 px squeezed onto a phone.
    chart = page.locator("#chart svg")
    shown = page.locator("#chart").evaluate("e => e.clientWidth")
    assert 300 < shown < PHONE["width"]
    expect(chart).to_have_attribute("width", str(shown))
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"
    # The history fits the phone (nothing cut off), and the keyboard reaches it.
    history = page.get_by_role("region", name="Run history")
    assert history.evaluate("e => e.scrollWidth <= e.clientWidth"), "the history is cut off"
    for _ in range(30):
        page.keyboard.press("Tab")
        if history.evaluate("e => e === document.activeElement"):
            break
    else:
        raise AssertionError("the history cannot be reached with the keyboard")
    assert_accessible(page, "history")


@pytest.fixture
def quick(tmp_path: Path, broker: Broker, prefix: str) -> Iterator[Service]:
    with running(tmp_path, broker, prefix, routines={"quick": QUICK}) as the_service:
        yield the_service


def test_the_question_is_answered_on_the_page_and_afterwards_in_history(page: Page, quick: Service) -> None:
    log_in(page, quick)
    card = page.locator("article[data-routine=quick]")
    expect(card.locator(".facts")).to_contain_text("next run 3 reps")
    expect(card.locator(".towards")).to_have_text("0 of 1 good sessions towards 6")
    card.get_by_role("button", name="Start").click()
    live = page.locator("#live-quick")
    expect(live).to_have_attribute("data-state", "asking")
    answers = live.get_by_role("group", name="How did that feel?")
    expect(answers.get_by_role("button")).to_have_text(["Felt good", "Too much", "It hurt"])
    expect(live.get_by_role("button", name="Pause")).to_have_count(0)
    shoot(page, "question-open-on-a-phone")
    assert_accessible(page, "asking")
    answers.get_by_role("button", name="Felt good").click()
    expect(live.locator(".ack")).to_have_text("Thank you. Next time we go up to 6 repetitions.")
    live.get_by_role("button", name="Done").click()
    expect(live).to_have_count(0)
    expect(card.locator(".facts")).to_contain_text("next run 6 reps")
    expect(card.locator(".towards")).to_have_text("at the highest level")
    expect(page.locator("#history tbody tr td.feedback")).to_have_text(["felt good"])
    expect(page.locator("#chart rect.run-good")).to_have_count(1)

    # Nobody answers the next run in time: its row in the history takes the answer afterwards, once.
    card.get_by_role("button", name="Start").click()
    expect(live).to_have_attribute("data-state", "asking")
    expect(live).to_have_count(0, timeout=15_000)
    late = page.locator("#history tbody tr").first.get_by_role("group", name="How did it feel?")
    assert_accessible(page, "history with a late answer")
    late.get_by_role("button", name="It hurt").click()
    said = ENGLISH.reply_hurt.format(start=2, rest_advice=ENGLISH.rest_advice)  # the reply, as spoken
    expect(live.locator(".ack")).to_have_text(said)
    live.get_by_role("button", name="Done").click()
    expect(page.locator("#history tbody tr td.feedback")).to_have_text(["it hurt", "felt good"])
    expect(page.locator("#history button")).to_have_count(0)
    expect(card.locator(".facts")).to_contain_text("next run 2 reps")  # the gentler run after "it hurt"
    expect(card.get_by_role("note")).to_have_text(SHOWN_ADVICE)
    expect(page.locator("#chart rect.run-hurt")).to_have_count(1)


PEOPLE = """\
automations:
  - routine: quick
    profiles: {anna: {}, ben: {}}
"""


@pytest.fixture
def people(tmp_path: Path, broker: Broker, prefix: str) -> Iterator[Service]:
    with running(tmp_path, broker, prefix, routines={"quick": QUICK}, body=PEOPLE) as the_service:
        yield the_service


def test_who_does_the_run_is_chosen_beside_start_and_shown_in_history(page: Page, people: Service) -> None:
    log_in(page, people)
    card = page.locator("article[data-routine=quick]")
    who = card.get_by_label("Who")
    expect(who.locator("option")).to_have_text(["Anna", "Ben"])
    expect(who).to_have_value("anna")
    assert_accessible(page, "idle with profiles")
    # Ben goes up on his own "felt good"; Anna's next run stays at her level.
    who.select_option("ben")
    card.get_by_role("button", name="Start").click()
    live = page.locator("#live-quick")
    expect(live).to_have_attribute("data-state", "asking")
    expect(live.locator(".who")).to_have_text("Ben")
    live.get_by_role("group", name="How did that feel?").get_by_role("button", name="Felt good").click()
    live.get_by_role("button", name="Done").click()
    expect(live).to_have_count(0)
    expect(who).to_have_value("ben")  # the choice stays while the page redraws
    expect(card.locator(".facts")).to_contain_text("next run 6 reps")
    who.select_option("anna")
    expect(card.locator(".facts")).to_contain_text("next run 3 reps")
    expect(card.locator(".timeline")).to_be_visible()
    row = page.locator("#history tbody tr").first
    expect(row.locator("td").nth(1)).to_have_text("Quick stretch · Ben")
    assert_accessible(page, "history with profiles")
