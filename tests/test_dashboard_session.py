"""The session as a person lives it on a phone (390x844, real headless Chromium, axe-core in every
state): the run covers the page where they are looking, large enough to read from a step away, with
controls a thumb hits and a stray tap cannot end; the page in the routine's language; who is using it
remembered; the keyboard and a screen reader led through it."""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FloatRect, Locator, Page, expect

from homeflow.language import LANGUAGES
from homeflow.language.page import PAGE_WORDS, page_words

from .browser import DESKTOP, PHONE, assert_accessible, open_page
from .harness import shipped_routine
from .mosquitto import Broker
from .test_faults_disk import fill, small_disk
from .web import STRETCH, TOKEN, Service, running

SHOTS = Path("/tmp/homeflow-session")
# Quick: over in a moment at the tests' time scale of 20; once a day per person.
QUICK = """\
name: Quick stretch
reps: {start: 3, max: 6, step: 3, good_sessions_to_progress: 1}
limits: {max_per_day: 1}
feedback: {ask: "How did the stretch feel?", timeout: 100}
steps:
  - title: Stretch
    do:
      - count: {say: "Stretch {reps} times.", to: "{reps}", tempo: 2}
"""
PEOPLE = """\
automations:
  - routine: quick
    profiles: {anna: {}, ben: {}}
"""


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_language_has_every_page_word_with_the_same_placeholders() -> None:
    english = PAGE_WORDS["en"]
    assert set(PAGE_WORDS) == set(LANGUAGES)  # a routine's every language has the page's words
    for code, table in PAGE_WORDS.items():
        assert set(table) == set(english), code
        for name, text in table.items():
            assert text.strip(), (code, name)
            assert placeholders(text) == placeholders(english[name]), (code, name, text)
    assert page_words("xx") is english


def english_only() -> list[re.Pattern[str]]:
    """The English table's words the German one does not share ("Pause" is both), as whole words."""
    german = " ".join(PAGE_WORDS["de"].values())
    found = set()
    for text in PAGE_WORDS["en"].values():
        for part in re.split(r"\{\w+\}", text):
            piece = part.strip(" .:…,'")
            if len(piece) > 2 and piece not in german:
                found.add(piece)
    return [re.compile(rf"(?<!\w){re.escape(piece)}(?!\w)") for piece in sorted(found)]


def assert_german(page: Page) -> None:
    assert page.evaluate("document.documentElement.lang") == "de"
    shown = page.locator("body").inner_text()
    english = [pattern.pattern for pattern in english_only() if pattern.search(shown)]
    assert not english, f"English on the German page: {english}\n{shown}"


def px(locator: Locator, what: str = "fontSize") -> float:
    return float(locator.evaluate(f"e => parseFloat(getComputedStyle(e).{what})"))


def apart(a: FloatRect | None, b: FloatRect | None) -> float:
    """The space between two boxes, across or down, whichever way they are side by side."""
    assert a is not None and b is not None
    across = max(b["x"] - (a["x"] + a["width"]), a["x"] - (b["x"] + b["width"]))
    down = max(b["y"] - (a["y"] + a["height"]), a["y"] - (b["y"] + b["height"]))
    return max(across, down)


def focused(page: Page, selector: str) -> bool:
    return bool(page.evaluate(f"document.activeElement === document.querySelector({selector!r})"))


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png")


def sign_in(page: Page, url: str) -> None:
    page.goto(url)
    page.fill("#token", TOKEN)
    page.click("#login button[type=submit]")
    expect(page.locator("#link")).to_have_class("up")


@pytest.fixture
def german(tmp_path: Path, broker: Broker, prefix: str) -> Iterator[Service]:
    routine = shipped_routine(file="back-massage-de.yaml")
    # Slow enough (a number a second) to look at a count; Skip leads to it.
    with running(tmp_path, broker, prefix, routines={"ruecken": routine}, time_scale=4) as the_service:
        yield the_service


def test_a_first_german_run_on_a_phone(browser: Browser, german: Service) -> None:
    with open_page(browser, "session-german-phone") as (page, watch):
        sign_in(page, german.url + "/")
        card = page.locator("article[data-routine=ruecken]")
        expect(card.locator("details.safety")).to_have_attribute("open", "")
        assert_german(page)
        assert_accessible(page, "idle, safety open (German)")
        shot(page, "1-idle-de")

        # Started by keyboard: the run covers the page at once, the focus on its Pause.
        start = card.get_by_role("button", name="Starten: Rückenmassage mit dem Ball", exact=True)
        start.focus()
        page.keyboard.press("Enter")
        live = page.locator("#live-ruecken")
        sentence, pause = live.locator(".sentence"), live.get_by_role("button", name="Pause")
        expect(sentence).to_contain_text("Sicherheit", timeout=1000)  # the safety introduction
        expect(sentence).to_be_in_viewport(timeout=1000)
        expect(pause).to_be_in_viewport(timeout=1000)
        expect(pause).to_be_enabled(timeout=1000)
        assert focused(page, "#live-ruecken .pause")
        assert_german(page)

        # Pause works from the first second, and paused is shown large, with how to go on.
        pause.click()
        expect(live).to_have_attribute("data-state", "paused")
        expect(live.locator(".position")).to_have_text("")  # still in the safety introduction
        expect(live.locator(".step")).to_have_text("Sicherheit")
        expect(live.locator(".paused-big")).to_have_text("Pausiert")
        expect(live.locator(".paused-how")).to_be_in_viewport()
        assert px(live.locator(".paused-big")) >= 32
        assert_accessible(page, "paused (German)")
        shot(page, "2-paused-de")
        live.get_by_role("button", name="Weiter").click()
        expect(live).to_have_attribute("data-state", "running")

        # A count: the instruction stays large (not the count's own "Los."), the number larger still.
        for step in (1, 2, 3):
            live.get_by_role("button", name="Überspringen").click()
            expect(live.locator(".position")).to_have_text(f"Schritt {step} von 10")
        count = live.locator(".count")
        expect(count).to_have_text(re.compile(r"^[1-4] von 5$"), timeout=10_000)
        expect(sentence).to_have_text("Langsame Kreise, 5-mal in eine Richtung.")
        for part in (sentence, count, live.locator(".left"), live.locator(".step"), pause):
            expect(part).to_be_in_viewport()
        assert px(sentence) >= 32, f"the sentence is {px(sentence)} px"
        assert px(count.locator("b")) >= 64, f"the count is {px(count.locator('b'))} px"
        buttons = [live.locator(f".controls .{name}") for name in ("pause", "skip", "cancel")]
        boxes = [button.bounding_box() for button in buttons]
        assert all(box is not None and box["height"] >= 56 for box in boxes), boxes
        for button in buttons:  # nothing sticks out of its button
            assert button.evaluate("e => e.scrollWidth <= e.clientWidth"), button.inner_text()
        assert all(apart(a, b) >= 12 for i, a in enumerate(boxes) for b in boxes[i + 1 :]), boxes
        assert_german(page)
        assert_accessible(page, "running (German)")
        shot(page, "3-counting-de")

        # One tap on Cancel stops nothing: it asks, and the second tap stops the run.
        cancel = live.locator(".cancel")
        cancel.click()
        expect(cancel).to_have_text("Wirklich aufhören?")
        expect(live.locator(".cancel-hint")).to_be_in_viewport()
        expect(live).to_have_attribute("data-state", "running")
        shot(page, "4-cancel-asks-de")
        cancel.click()
        # A run cancelled mid-way asks whether it hurt; "no" closes the question.
        expect(live.get_by_role("alert")).to_have_text("Hat es wehgetan?")
        assert_german(page)
        live.get_by_role("button", name="Nein, es tat nicht weh").click()
        expect(live.locator(".ack")).to_have_text("Danke. Ruh dich gut aus.")
        live.get_by_role("button", name="Fertig").click()
        expect(live).to_have_count(0)
        expect(card.locator(".start")).to_be_focused()
        assert_german(page)
    assert (watch.errors, watch.refused) == ([], [])


def test_a_double_tap_on_cancel_stops_nothing(browser: Browser, german: Service) -> None:
    with open_page(browser, "session-double-tap") as (page, watch):
        sign_in(page, german.url + "/")
        page.locator("article[data-routine=ruecken] .start").click()
        live = page.locator("#live-ruecken")
        live.get_by_role("button", name="Überspringen").click()  # past the safety introduction
        expect(live).to_have_attribute("data-state", "running", timeout=5000)

        # Two taps 0.3 s apart, as a thumb bounces: the first asks, the second is not the answer.
        page.evaluate(
            """async () => {
                const cancel = document.querySelector("#live-ruecken .cancel");
                cancel.click();
                await new Promise((done) => setTimeout(done, 300));
                cancel.click();
            }"""
        )
        cancel = live.get_by_role("button", name="Wirklich aufhören?")
        expect(cancel).to_be_visible()
        page.wait_for_timeout(500)  # a cancel sent would have ended the run by now
        assert german.request("GET", "/api/routines").json()["routines"][0]["state"]["state"] == "running"
        expect(live).to_have_attribute("data-state", "running")

        # A deliberate second tap, within the 5 seconds, stops it.
        cancel.click()
        expect(live.get_by_role("alert")).to_have_text("Hat es wehgetan?")
        assert german.request("GET", "/api/routines").json()["routines"][0]["state"]["state"] == "asking"
    assert (watch.errors, watch.refused) == ([], [])


@pytest.fixture
def household(tmp_path: Path, broker: Broker, prefix: str) -> Iterator[Service]:
    with running(tmp_path, broker, prefix, routines={"quick": QUICK}, body=PEOPLE) as the_service:
        yield the_service


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_second_person_answers_is_thanked_and_refused_next_time(
    browser: Browser, household: Service, size: str, viewport: dict[str, int]
) -> None:
    with open_page(browser, f"session-household-{size}", viewport) as (page, watch):
        sign_in(page, household.url + "/")
        card = page.locator("article[data-routine=quick]")
        expect(card.locator(".whose")).to_have_text("Anna's figures")
        card.get_by_label("Who does Quick stretch").select_option("ben")
        page.reload()  # this device remembers who uses it
        expect(card.get_by_label("Who does Quick stretch")).to_have_value("ben")
        expect(card.locator(".whose")).to_have_text("Ben's figures")
        expect(card.locator(".facts")).to_contain_text("next run 3 reps")
        assert_accessible(page, f"idle with people ({size})")

        card.get_by_role("button", name="Start Quick stretch", exact=True).click()
        live = page.locator("#live-quick")
        question = live.get_by_role("alert")
        expect(question).to_have_text("How did the stretch feel?")  # the routine's own, announced
        expect(live.locator(".who")).to_have_text("Ben")
        expect(question).to_be_in_viewport()
        assert_accessible(page, f"question ({size})")
        shot(page, f"5-question-{size}")

        live.get_by_role("button", name="Felt good").click()
        ack = live.locator(".ack")
        expect(ack).to_have_text("Thank you. Next time we go up to 6 repetitions.")  # as said
        expect(ack).to_be_in_viewport()
        expect(live.get_by_role("button", name="Done")).to_be_focused()
        assert_accessible(page, f"answered ({size})")
        shot(page, f"6-answered-{size}")
        live.get_by_role("button", name="Done").click()
        expect(live).to_have_count(0)
        expect(card.locator(".start")).to_be_focused()
        expect(card.locator(".facts")).to_contain_text("next run 6 reps")

        # The history and the chart are shown per person: Ben's run is not Anna's.
        expect(page.locator("#history tbody tr")).to_have_count(1)
        page.get_by_label("Whose runs").select_option("anna")
        expect(page.locator("#history tbody tr")).to_have_count(0)
        expect(page.locator("#chart rect.run")).to_have_count(0)
        page.get_by_label("Whose runs").select_option("ben")
        expect(page.locator("#history tbody tr td.what")).to_have_text(["Quick stretch · Ben"])
        expect(page.locator("#chart rect.run-good")).to_have_count(1)

        # Once a day: the reason is shown beside the Start that was tapped.
        card.locator(".start").click()
        refused = card.get_by_role("alert")
        expect(refused).to_contain_text("Not started:")
        expect(refused).to_be_in_viewport()
        expect(page.locator("#live-quick")).to_have_count(0)
        assert_accessible(page, f"refused ({size})")
        shot(page, f"7-refused-{size}")
    assert watch.errors == []


@pytest.fixture
def two_languages(tmp_path: Path, broker: Broker, prefix: str) -> Iterator[Service]:
    routines = {"massage": shipped_routine(), "ruecken": shipped_routine(file="back-massage-de.yaml")}
    with running(tmp_path, broker, prefix, routines=routines) as the_service:
        yield the_service


def test_the_page_speaks_the_language_of_the_routine_in_use(browser: Browser, two_languages: Service) -> None:
    listed = two_languages.request("GET", "/api/routines").json()
    assert {r["id"]: r["lang"] for r in listed["routines"]} == {"massage": "en", "ruecken": "de"}
    assert listed["words"] == {code: dict(page_words(code)) for code in ("de", "en")}
    with open_page(browser, "session-two-languages", DESKTOP) as (page, watch):
        sign_in(page, two_languages.url + "/")
        assert (
            page.evaluate("document.documentElement.lang") == "en"
        )  # the first routine's, until one is used
        german = page.locator("article[data-routine=ruecken]")
        expect(german).to_have_attribute("lang", "de")
        expect(page.locator("article .start")).to_have_text(["Start", "Starten"])
        names = page.locator("article .start").evaluate_all(
            "all => all.map(e => e.getAttribute('aria-label'))"
        )
        assert names == ["Start Back massage", "Starten: Rückenmassage mit dem Ball"]

        german.locator(".start").click()
        live = page.locator("#live-ruecken")
        expect(live.locator(".sentence")).to_contain_text("Sicherheit")
        assert page.evaluate("document.documentElement.lang") == "de"
        shown = live.inner_text()
        assert not [p.pattern for p in english_only() if p.search(shown)], shown
        assert_accessible(page, "a German run among English routines")
        shot(page, "8-german-run-desktop")
        live.locator(".cancel").click()
        live.get_by_role("button", name="Wirklich aufhören?").click()
        expect(live).to_have_count(0)
        page.reload()  # the routine last used on this device keeps the page in its language
        expect(page.locator("#history-title")).to_have_text("Verlauf")
        assert page.evaluate("document.documentElement.lang") == "de"
        expect(page.locator("article[data-routine=massage]")).to_have_attribute("lang", "en")
        # The history and the chart, of one routine or every one.
        expect(page.locator("#history tbody tr")).to_have_count(1)
        page.get_by_label("Gezeigter Ablauf").select_option("massage")
        expect(page.locator("#history tbody tr")).to_have_count(0)
        expect(page.locator("#chart rect.run")).to_have_count(0)
        page.get_by_label("Gezeigter Ablauf").select_option("ruecken")
        expect(page.locator("#history tbody tr td.what")).to_have_text(["Rückenmassage mit dem Ball"])
        expect(page.locator("#chart rect.run-cancelled")).to_have_count(1)
        shot(page, "9-after-german-run-desktop")
    assert (watch.errors, watch.refused) == ([], [])


def test_a_command_that_fails_in_a_session_says_so_in_the_session(
    browser: Browser, tmp_path: Path, broker: Broker, prefix: str
) -> None:
    with (
        running(tmp_path, broker, prefix, routines={"stretch": STRETCH}) as service,
        open_page(browser, "session-command-fails") as (page, _watch),
    ):
        sign_in(page, service.url + "/")
        page.locator("article[data-routine=stretch] .start").click()
        live = page.locator("#live-stretch")
        expect(live.locator(".step")).to_have_text("Warm up")
        page.route("**/api/routines/stretch/pause", lambda route: route.abort())  # the Wi-Fi drops it
        live.get_by_role("button", name="Pause").click()
        problem = live.locator(".problem")
        expect(problem).to_have_text(re.compile("fetch", re.IGNORECASE))
        expect(problem).to_be_in_viewport()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small filesystem needs root")
def test_a_degraded_journal_is_shown_above_the_session(
    browser: Browser, tmp_path: Path, broker: Broker, prefix: str
) -> None:
    with (
        small_disk(tmp_path / "disk", size_kb=8192) as disk,
        running(disk, broker, prefix, routines={"stretch": STRETCH}) as service,
        open_page(browser, "session-degraded") as (page, watch),
    ):
        sign_in(page, service.url + "/")
        page.locator("article[data-routine=stretch] .start").click()
        live = page.locator("#live-stretch")
        expect(live.locator(".step")).to_have_text("Warm up")
        filler = fill(disk)  # the next cue cannot be journaled
        banner = page.get_by_role("alert").filter(has_text="homeflow is degraded")
        expect(banner).to_be_in_viewport(ratio=1, timeout=10_000)
        top = banner.evaluate("e => document.elementFromPoint(e.offsetLeft + 20, e.offsetTop + 10) === e")
        assert top, "the session covers the banner"
        below = live.locator(".name").bounding_box()
        edge = banner.bounding_box()
        assert below is not None and edge is not None and below["y"] >= edge["y"] + edge["height"]
        expect(live.get_by_role("button", name="Pause")).to_be_in_viewport()
        assert_accessible(page, "degraded during a session")
        shot(page, "14-degraded-session")
        filler.unlink()
    assert watch.errors == []
