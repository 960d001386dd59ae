"""Pairing as a person does it, in headless Chromium at a phone's size: the scanned link lands on the
page signed in, a new tab is signed in too, and the page steers a run, with no token typed."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from homeflow.web.pairing import Pairing

from .browser import chromium, open_page
from .mosquitto import Broker
from .web import TOKEN, running


def test_a_scanned_link_signs_the_phone_in_for_every_tab(tmp_path: Path, broker: Broker, prefix: str) -> None:
    with running(tmp_path, broker, prefix) as service, chromium() as browser:
        with open_page(browser, "paired-phone") as (page, watch):
            page.goto(f"{service.url}/pair/{Pairing(TOKEN).code()}")  # as `homeflow run` printed it
            assert page.url == f"{service.url}/"
            start = page.get_by_role("button", name="Start").first
            expect(start).to_be_visible()
            expect(page.locator("#token")).to_be_hidden()

            tab = page.context.new_page()  # a new tab asks for nothing either
            tab.goto(f"{service.url}/")
            expect(tab.get_by_role("button", name="Start").first).to_be_visible()
            expect(tab.locator("#token")).to_be_hidden()
            tab.close()

            start.click()
            expect(page.get_by_role("button", name="Cancel").first).to_be_visible()
            page.get_by_role("button", name="Cancel").first.click()
            expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
        assert watch.errors == [] and watch.refused == []
