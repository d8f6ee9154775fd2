"""App passwords and locked sign-ins in a real browser (Debian's chromium through Playwright,
against `beaconmail admin`): a user makes an app password in My account, copies it from the
page and POP3 takes it; the global admin sees a locked address and lifts it."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from integration.pop3.support import FAST, RunningServer
from integration.pop3.support import login as pop3_login
from playwright.sync_api import Browser, expect

from shared import accounts
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.errors import AuthFailed
from shared.storage.db import Database

from .test_admin_browser import ADMIN, browser, portal_url, sign_in, snap, submit  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e
STAFF, STAFF_PASSWORD = "staff@portal.example", "staff-password-1"


def test_app_password_made_in_the_browser_logs_in_to_pop3(
    portal_url: str, browser: Browser, settings: Settings, db: Database, tmp_path: Path  # noqa: F811
) -> None:
    database = settings.database_url.split(":", 1)[0].split("+")[0]
    accounts.create_mailbox(db, STAFF, STAFF_PASSWORD, actor=CONSOLE)
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{portal_url}/login")
    page.get_by_label("Address").fill(STAFF)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    submit(page, "Sign in")
    page.goto(f"{portal_url}/account/")
    page.locator("#my-app-passwords").click()
    page.get_by_label("Name (the device or program it is for)").fill("phone")
    page.get_by_label("POP3").check()
    submit(page, "Create app password")
    expect(page.get_by_role("heading", name="App password phone created")).to_be_visible()
    password = page.locator("#new-app-password-secret").inner_text().strip()
    snap(page, "app-password-created", database)
    server = RunningServer(dataclasses.replace(settings, **FAST))  # type: ignore[arg-type]
    try:
        client = pop3_login(server, STAFF, password)
        client.quit()
    finally:
        server.stop()
    page.get_by_role("link", name="Back to the app passwords").click()
    expect(page.locator("#app-passwords")).to_contain_text("POP3")
    expect(page.locator("#app-passwords")).to_contain_text("127.0.0.1")


def test_the_admin_lifts_a_lock_in_the_browser(portal_url: str, browser: Browser, settings: Settings, db: Database) -> None:  # noqa: F811
    database = settings.database_url.split(":", 1)[0].split("+")[0]
    accounts.create_mailbox(db, STAFF, STAFF_PASSWORD, actor=CONSOLE)
    for _ in range(settings.login_max_failures):
        with pytest.raises(AuthFailed):
            accounts.authenticate(db, STAFF, "guess", "smtp", "203.0.113.5")
    page = browser.new_context(locale="en-GB").new_page()
    sign_in(page, portal_url)
    page.get_by_role("link", name="Locked sign-ins").click()
    expect(page.locator("#locks")).to_contain_text("203.0.113.5")
    snap(page, "locked-sign-ins", database)
    submit(page, "Lift")
    expect(page.get_by_role("status")).to_have_text(f"203.0.113.5 may sign in to {STAFF} again.")
    assert accounts.authenticate(db, STAFF, STAFF_PASSWORD, "smtp", "203.0.113.5").address == STAFF
    assert accounts.list_audit(db, actor=CONSOLE, action="login.unlock")[0].actor == ADMIN
