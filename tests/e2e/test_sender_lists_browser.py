"""The domain page's sender lists in a real browser (Debian's chromium, Playwright) against
`beaconmail admin`: a listing added with the form, shown, and removed with its button."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from shared import accounts
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .test_admin_browser import browser, portal_url, sign_in, submit

pytestmark = pytest.mark.e2e
__all__ = ["browser", "portal_url"]  # the fixtures this test shares with the portal's own


def test_a_listing_is_added_and_removed_in_a_real_browser(portal_url: str, browser: Browser, db: Database) -> None:
    page = browser.new_context(locale="en-GB").new_page()
    sign_in(page, portal_url)
    page.goto(f"{portal_url}/domains/portal.example")

    page.get_by_label("Sender (address or whole domain)").fill("*@spam.example")
    page.get_by_label("Block: its mail is refused").check()
    submit(page, "Add to the sender lists")
    expect(page.locator("#sender-form .form-error")).to_contain_text("no wildcards")

    page.get_by_label("Sender (address or whole domain)").fill("@Spam.Example")
    page.get_by_label("Block: its mail is refused").check()
    submit(page, "Add to the sender lists")
    expect(page.get_by_role("status")).to_have_text("Mail from spam.example is now refused.")
    row = page.locator("#senders tbody tr", has_text="spam.example")
    expect(row).to_contain_text("blocked")
    assert [(v.sender, v.listing) for v in accounts.list_senders(db, "portal.example", actor=CONSOLE)] == [
        ("spam.example", "block")
    ]

    row.get_by_role("button", name="Remove").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_have_text("spam.example was taken off the sender lists.")
    expect(page.locator("#senders tbody")).to_have_text(re.compile(r"^\s*None\.\s*$"))
    assert accounts.list_senders(db, "portal.example", actor=CONSOLE) == []
