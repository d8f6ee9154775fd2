"""The Webhooks page in Chromium against `beaconmail admin` (gunicorn): add one for a domain,
copy its secret once, see it listed, delete it after the confirmation page."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from shared.accounts import webhooks
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.storage.db import Database

from .test_admin_browser import browser, environment, running_portal, sign_in, snap, submit

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the fixture, shared with the admin browser test


@pytest.fixture
def portal_allowing_loopback_hooks(settings: Settings, db: Database, tmp_path: Path) -> Iterator[str]:
    env = environment(settings) | {"BEACONMAIL_WEBHOOK_ALLOW_PRIVATE": "1"}
    with running_portal(settings, db, tmp_path / "processes", env) as url:
        yield url


def test_webhooks_page_in_a_real_browser(
    portal_allowing_loopback_hooks: str, browser: Browser, settings: Settings, db: Database
) -> None:
    portal_url, database = portal_allowing_loopback_hooks, settings.database_url.split(":", 1)[0].split("+")[0]
    page = browser.new_context(locale="en-GB").new_page()
    sign_in(page, portal_url)
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    page.get_by_label("URL (https://…)").fill("http://127.0.0.1:9/hooks/mail")
    page.get_by_label("message.received").uncheck()
    submit(page, "Add webhook")
    secret = page.locator("#new-secret").inner_text()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{32}", secret)
    snap(page, "webhook-created", database)
    (hook,) = webhooks.list_webhooks(db, actor=CONSOLE)
    assert hook.domain == "portal.example" and "message.received" not in hook.events and len(hook.events) == 5

    page.get_by_role("link", name="Back to the webhooks").click()
    row = page.locator("#webhooks tbody tr")
    expect(row).to_contain_text("http://127.0.0.1:9/hooks/mail")
    expect(row).to_contain_text("Active")
    assert secret not in page.content()
    row.get_by_role("link", name="Delete").click()
    expect(page.get_by_text("will get no more events of portal.example")).to_be_visible()
    snap(page, "webhook-delete", database)
    submit(page, "Delete webhook")
    expect(page.get_by_role("status")).to_have_text("The webhook to http://127.0.0.1:9/hooks/mail was deleted.")
    assert webhooks.list_webhooks(db, actor=CONSOLE) == []
