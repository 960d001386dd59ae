"""The "it hurt" path on a phone (390x844, real headless Chromium, axe-core in every new state), in
English and German: a run cancelled mid-way asks whether it hurt, a large "It hurt" keeps the answer on
that run ("No" is thanked), the reply homeflow said is shown, and the routine then rests with its stop
rules, Start cautioned, a tap on it saying why; a first run's Start is in view beside the safety text
owed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from homeflow.defaults import ROUTINES, load_settings
from homeflow.journal import RunStatus, open_journal
from homeflow.language import phrases
from homeflow.language.page import page_words
from homeflow.routine.guidance import stop_rules
from homeflow.routine.model import Routine
from homeflow.routine.progression import Feedback

from .browser import assert_accessible, open_page
from .harness import shipped_routine
from .mosquitto import Broker
from .test_dashboard_session import assert_german, shot, sign_in
from .web import Service, running

# The shipped routines, by the id each test serves it under.
SHIPPED = {"en": ("massage", "back-massage.yaml"), "de": ("ruecken", "back-massage-de.yaml")}


def shipped(lang: str) -> Routine:
    name = SHIPPED[lang][1].removesuffix(".yaml")
    return load_settings(ROUTINES.parent / "homeflow.yaml").routines[name]


@pytest.fixture(params=["en", "de"])
def massage(request: pytest.FixtureRequest, tmp_path: Path, broker: Broker, prefix: str) -> Iterator[Service]:
    routine_id, file = SHIPPED[request.param]
    # Slow enough (the question after a cancel stays open for seconds) to answer it on the page.
    with running(
        tmp_path, broker, prefix, routines={routine_id: shipped_routine(file=file)}, time_scale=4
    ) as service:
        yield service


def local_hour(page: Page, iso: str, lang: str) -> str:
    """A time as the page's clock shows it: 12-hour in English, 24-hour in German."""
    zone = ZoneInfo(page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone"))
    at = datetime.fromisoformat(iso).astimezone(zone)
    return at.strftime("%I:%M") if lang == "en" else at.strftime("%H:%M")


def test_cancel_did_it_hurt_it_hurt_then_a_rest_with_the_stop_rules(
    browser: Browser, massage: Service
) -> None:
    (routine_id,) = [r["id"] for r in massage.request("GET", "/api/routines").json()["routines"]]
    lang = "en" if routine_id == "massage" else "de"
    routine, words, table = shipped(lang), page_words(lang), phrases(lang)
    with open_page(browser, f"hurt-{lang}") as (page, watch):
        sign_in(page, massage.url + "/")
        card = page.locator(f"article[data-routine={routine_id}]")
        card.locator(".start").click()
        live = page.locator(f"#live-{routine_id}")
        expect(live.locator(".sentence")).not_to_be_empty(timeout=5000)
        live.locator(".cancel").click()
        live.get_by_role("button", name=words["really_stop"]).click()

        # Asked, large and announced, in the routine's language: "It hurt", or no.
        question = live.get_by_role("alert").first
        expect(question).to_have_text(words["did_it_hurt"])
        expect(live).to_have_attribute("data-kind", "hurt")
        hurt = live.get_by_role("button", name=words["answer_hurt"], exact=True)
        expect(hurt).to_be_in_viewport()
        expect(live.get_by_role("button", name=words["not_hurt"], exact=True)).to_be_in_viewport()
        box = hurt.bounding_box()
        assert box is not None and box["height"] >= 56, box
        assert len(live.locator("[data-answer]").all()) == 1  # not the three end-of-run answers
        if lang == "de":
            assert_german(page)
        assert_accessible(page, f"did it hurt? ({lang})")
        shot(page, f"10-did-it-hurt-{lang}")

        # The answer lands on the cancelled run; the reply homeflow said is shown, stop rules and all.
        hurt.click()
        ack = live.locator(".ack")
        reply = table.reply_hurt.format(start=routine.reps.gentle_reps, rest_advice=table.rest_advice)
        expect(ack).to_have_text(f"{reply} {stop_rules(routine)}")
        (run,) = massage.request("GET", "/api/runs").json()["runs"]
        assert (run["status"], run["feedback"]) == ("cancelled", "hurt")
        assert_accessible(page, f"answered it hurt ({lang})")
        live.get_by_role("button", name=words["done"]).click()
        expect(live).to_have_count(0)

        # Resting: until when, the advice with the stop rules, and Start cautioned, refusing with why.
        stats: dict[str, Any] = massage.request("GET", "/api/routines").json()["routines"][0]["stats"]
        assert stats["rest_until"] is not None
        when = local_hour(page, stats["rest_until"], lang)
        start = card.locator(".start")
        expect(start).to_contain_text(words["resting_until"].split("{")[0].strip())
        expect(start).to_contain_text(when)
        expect(start).not_to_have_class("primary start")
        expect(card.locator(".rest")).to_contain_text(when)
        expect(card.locator(".advice")).to_contain_text(stop_rules(routine))
        expect(card.locator(".advice")).to_be_in_viewport()
        if lang == "de":
            assert_german(page)
        assert_accessible(page, f"resting ({lang})")
        shot(page, f"11-resting-{lang}")
        start.click()
        refused = card.locator(".refused")
        expect(refused).to_have_text(words["not_started"].format(reason=stats_reason(massage, routine_id)))
        expect(refused).to_be_in_viewport()
        expect(page.locator(f"#live-{routine_id}")).to_have_count(0)
        assert_accessible(page, f"resting, refused ({lang})")
    assert watch.errors == []


def test_no_it_did_not_hurt_is_thanked_until_done_or_a_few_seconds(
    browser: Browser, massage: Service
) -> None:
    (routine_id,) = [r["id"] for r in massage.request("GET", "/api/routines").json()["routines"]]
    lang = "en" if routine_id == "massage" else "de"
    words = page_words(lang)
    with open_page(browser, f"not-hurt-{lang}") as (page, watch):
        sign_in(page, massage.url + "/")
        card = page.locator(f"article[data-routine={routine_id}]")
        live = page.locator(f"#live-{routine_id}")
        for closed_by_done in (True, False):
            card.locator(".start").click()
            expect(live.locator(".sentence")).not_to_be_empty(timeout=5000)
            live.locator(".cancel").click()
            live.get_by_role("button", name=words["really_stop"]).click()
            live.get_by_role("button", name=words["not_hurt"], exact=True).click()

            # Thanked in the routine's language, the focus on Done; nothing is kept as an answer.
            ack = live.locator(".ack")
            expect(ack).to_have_text(words["not_hurt_ack"])
            expect(ack).to_be_in_viewport()
            done = live.get_by_role("button", name=words["done"])
            expect(done).to_be_focused()
            if closed_by_done:
                if lang == "de":
                    assert_german(page)
                assert_accessible(page, f"not hurt, thanked ({lang})")
                shot(page, f"12-not-hurt-{lang}")
                done.click()
            expect(live).to_have_count(0, timeout=10_000)  # without Done, after a few seconds
            expect(card.locator(".start")).to_be_focused()
        runs = massage.request("GET", "/api/runs").json()["runs"]
        assert [(run["status"], run["feedback"]) for run in runs] == [("cancelled", None)] * 2
    assert watch.errors == []


def stats_reason(service: Service, routine_id: str) -> str:
    """Why the routine's last start was refused, as the API says."""
    result = str(service.request("POST", f"/api/routines/{routine_id}/start").json()["result"])
    assert result.startswith("not started: "), result
    return result.removeprefix("not started: ")


def test_a_first_runs_start_is_in_view_above_the_safety_text_owed(browser: Browser, massage: Service) -> None:
    (routine_id,) = [r["id"] for r in massage.request("GET", "/api/routines").json()["routines"]]
    lang = "en" if routine_id == "massage" else "de"
    with open_page(browser, f"first-run-{lang}") as (page, watch):
        sign_in(page, massage.url + "/")
        card = page.locator(f"article[data-routine={routine_id}]")
        safety = card.locator("details.safety")
        expect(safety).to_have_attribute("open", "")
        expect(card.locator(".start")).to_be_in_viewport(ratio=1)
        expect(safety.locator("summary")).to_be_in_viewport(ratio=1)  # offered at once, open below
        assert page.evaluate("window.scrollY") == 0
        shot(page, f"12-first-run-{lang}")
    assert watch.errors == []


def answered_history(journal_at: Path) -> None:
    """A completed run, then two cancelled ones, none answered (ids 1, 2, 3)."""
    with open_journal(journal_at) as journal:
        for status in (RunStatus.COMPLETED, RunStatus.CANCELLED, RunStatus.CANCELLED):
            run = journal.start_run("massage", "mqtt", 5, 10.0, {})
            journal.finish_run(run, status)


def test_it_hurt_in_history_names_its_cancelled_run_and_the_next_run_goes_gently(
    browser: Browser, tmp_path: Path, broker: Broker, prefix: str
) -> None:
    edits = {"rest_after_hurt_hours: 24": "rest_after_hurt_hours: 0"}  # no rest: straight to the gentle run
    routines = {"massage": shipped_routine(edits)}
    with (
        running(tmp_path, broker, prefix, routines=routines, history=answered_history) as service,
        open_page(browser, "hurt-in-history") as (page, watch),
    ):
        sign_in(page, service.url + "/")
        rows = page.locator("#history tbody tr")
        expect(rows).to_have_count(3)
        older = page.locator("#history tr[data-run='2']")
        expect(older.get_by_role("group", name="Did it hurt?").get_by_role("button")).to_have_text(
            ["It hurt"]
        )
        expect(page.locator("#history tr[data-run='1'] button")).to_have_count(3)  # the three answers
        assert_accessible(page, "history with it hurt on cancelled runs")
        older.get_by_role("button", name="It hurt").click()
        live = page.locator("#live-massage")
        routine, table = shipped("en"), phrases("en")
        reply = table.reply_hurt.format(start=routine.reps.gentle_reps, rest_advice=table.rest_advice)
        expect(live.locator(".ack")).to_have_text(f"{reply} {stop_rules(routine)}")
        feedback = {r["id"]: r["feedback"] for r in service.request("GET", "/api/runs").json()["runs"]}
        assert feedback == {1: None, 2: "hurt", 3: None}  # that run, not the newest cancelled one

        live.get_by_role("button", name="Done").click()
        card = page.locator("article[data-routine=massage]")
        gentle = page_words("en")["gentle_next"].format(reps=routine.reps.gentle_reps)
        expect(card.locator(".gentle")).to_have_text(gentle)
        expect(card.locator(".start")).to_have_text("Start")
        expect(card.locator(".rest")).to_have_count(0)
        assert_accessible(page, "the gentle run next")
        shot(page, "13-gentle-next-en")
    assert watch.errors == []


def hurt_just_now(journal_at: Path) -> None:
    """A cancelled run answered "it hurt" as homeflow starts: its rest has just begun."""
    with open_journal(journal_at) as journal:
        run = journal.start_run("massage", "mqtt", 5, 10.0, {})
        journal.finish_run(run, RunStatus.CANCELLED)
        journal.set_feedback(run, Feedback.HURT)


def test_when_the_rest_ends_start_is_active_again_and_says_the_run_goes_gently(
    browser: Browser, tmp_path: Path, broker: Broker, prefix: str
) -> None:
    edits = {
        "rest_after_hurt_hours: 24": "rest_after_hurt_hours: 0.003",
        "min_gap_minutes: 120": "min_gap_minutes: 0",
    }
    routines = {"massage": shipped_routine(edits)}
    with (
        running(tmp_path, broker, prefix, routines=routines, history=hurt_just_now) as service,
        open_page(browser, "rest-ends") as (page, watch),
    ):
        sign_in(page, service.url + "/")
        card = page.locator("article[data-routine=massage]")
        start = card.locator(".start")
        expect(start).to_contain_text("Resting until")
        gentle = page_words("en")["gentle_next"].format(reps=shipped("en").reps.gentle_reps)
        expect(start).to_have_text("Start", timeout=15_000)  # without reloading the page
        expect(start).to_have_class("primary start")
        expect(card.locator(".rest")).to_have_count(0)
        expect(card.locator(".gentle")).to_have_text(gentle)
        start.click()
        expect(page.locator("#live-massage")).to_have_attribute("data-kind", "run")
    assert watch.errors == []
