"""The suppression list against `beaconmail admin` (gunicorn): the Suppressions page in Chromium
(listed, searched, removed after the confirm step) and /api/v1/suppressions with curl (list,
search, remove, audited)."""
from __future__ import annotations

import json
import subprocess

import pytest
from playwright.sync_api import Browser, expect

from shared import accounts
from shared.accounts import suppressions, tokens
from shared.accounts.audit import list_audit
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.storage.db import Database
from tests.conftest import require_programs
from tests.suppressed import suppress

from .test_admin_browser import ADMIN, browser, portal_url, sign_in, snap, submit

pytestmark = pytest.mark.e2e
__all__ = ["browser", "portal_url"]  # the fixtures, shared with the admin browser test
DOMAIN = "portal.example"


def listed(db: Database) -> list[str]:
    return [entry.address for entry in suppressions.list_suppressions(db, actor=CONSOLE).items]


def test_suppressions_page_in_a_real_browser(portal_url: str, browser: Browser, settings: Settings, db: Database) -> None:
    for address in ("gone@remote.example", "left@elsewhere.example"):
        suppress(db, ADMIN, address)
    database = settings.database_url.split(":", 1)[0].split("+")[0]
    page = browser.new_context(locale="en-GB").new_page()
    sign_in(page, portal_url)
    page.get_by_role("link", name="Suppressions").click()
    expect(page.get_by_role("heading", name="Suppressions")).to_be_visible()
    rows = page.locator("#suppressions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("550 5.1.1 <left@elsewhere.example>: no such user")
    page.get_by_label("Address").fill("GONE@")
    submit(page, "Search")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("gone@remote.example")
    snap(page, "suppressions", database)

    rows.get_by_role("link", name="Remove").click()
    expect(page.get_by_text("550 5.1.1 <gone@remote.example>: no such user")).to_be_visible()
    page.get_by_label("Type the name to confirm").fill("left@elsewhere.example")
    submit(page, "Remove from the list")  # another address typed back: nothing removed
    expect(page.get_by_text("The name you typed does not match.")).to_be_visible()
    assert listed(db) == ["left@elsewhere.example", "gone@remote.example"]
    page.get_by_label("Type the name to confirm").fill("gone@remote.example")
    submit(page, "Remove from the list")
    expect(page.get_by_role("status")).to_have_text(f"gone@remote.example is no longer suppressed for {DOMAIN}.")
    assert listed(db) == ["left@elsewhere.example"]
    expect(page.locator("#suppressions tbody tr")).to_have_count(1)


def test_suppressions_api_over_http(portal_url: str, db: Database) -> None:
    require_programs("curl", install_hint="apt install curl")
    accounts.create_domain(db, "other.example", actor=CONSOLE)
    accounts.create_mailbox(db, "boss@other.example", "boss-password-1", actor=CONSOLE)
    accounts.grant_role(db, "boss@other.example", domain="other.example", actor=CONSOLE)
    suppress(db, ADMIN, "gone@remote.example")
    suppress(db, "boss@other.example", "gone@remote.example")
    admin = tokens.create_token(db, ADMIN, name="curl", read_only=False, actor=CONSOLE).secret
    boss = tokens.create_token(db, "boss@other.example", name="curl", read_only=False, actor=CONSOLE).secret
    base = f"{portal_url}/api/v1/suppressions"

    def curl(secret: str, *args: str) -> tuple[int, str]:
        done = subprocess.run(
            ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {secret}", *args],
            capture_output=True, text=True, timeout=30, check=True,
        )
        body, _, status = done.stdout.rpartition("\n")
        return int(status), body

    status, body = curl(admin, base)
    assert status == 200 and sorted(item["domain"] for item in json.loads(body)["items"]) == ["other.example", DOMAIN]
    status, body = curl(boss, base)
    [only] = json.loads(body)["items"]
    assert (only["domain"], only["address"], only["reason"]) == (
        "other.example", "gone@remote.example", "550 5.1.1 <gone@remote.example>: no such user"
    )
    assert only["expires_at"] > only["created_at"]
    status, body = curl(admin, f"{base}?domain={DOMAIN}&address=GONE")
    assert [item["domain"] for item in json.loads(body)["items"]] == [DOMAIN]
    assert curl(boss, "-X", "DELETE", f"{base}/{DOMAIN}/gone@remote.example")[0] == 404
    assert curl(boss, "-X", "DELETE", f"{base}/other.example/gone@remote.example")[0] == 204
    status, body = curl(boss, "-X", "DELETE", f"{base}/other.example/gone@remote.example")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    status, body = curl(admin, base)
    assert [item["domain"] for item in json.loads(body)["items"]] == [DOMAIN]
    [removal] = [entry for entry in list_audit(db, actor=CONSOLE) if entry.action == "suppression.delete"]
    assert (removal.actor, removal.target, removal.domain) == ("boss@other.example", "gone@remote.example", "other.example")
