"""Layouts that hold, in a real browser (Debian's chromium, Playwright) against `beaconmail
admin`: with the longest values the portal accepts (a 255-character display name, a 64-character
local part, a long domain, long alias and member lists, a long token name, a long Junk subject),
no page is wider than a phone (375 px) or a laptop (1,366 px), for a global admin and for a
plain user. The pages are those of the application's URL map, so a page added later is walked
too. Long values are cut with an ellipsis and keep the full text in a title for hover.
Screenshots of the widest pages go to tests/artifacts/admin/."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from flask import url_for
from playwright.sync_api import Browser, Page

from services.admin import create_app
from shared import accounts
from shared.accounts import out_of_office, tokens
from shared.accounts.forwarding import set_forwarding
from shared.accounts.permissions import scope_of
from shared.accounts.views import CONSOLE, Actor
from shared.accounts.webhooks import create_webhook
from shared.mail.autoreply import Notice
from shared.mail.webhooks import EVENTS
from shared.storage.db import Database
from tests.junkmail import put_in_junk
from tests.messagelog import accept
from tests.suppressed import suppress

from .test_admin_browser import ADMIN, PASSWORD, browser, portal_url, snap, submit

pytestmark = pytest.mark.e2e
__all__ = ["browser", "portal_url"]  # the fixtures this test shares with the portal's own

WIDTHS = (375, 1366)
LONG_DOMAIN = f"{'d' * 63}.{'e' * 50}.example"
LONG_LOCAL = "l" * 64
LONG_USER = f"{LONG_LOCAL}@{LONG_DOMAIN}"
LONG_NAME = "N" * 255  # one unbroken word: the hardest case for a layout
LONG_REMOTE = [f"{'r' * 60}{n:02}@{'remote' * 8}.example" for n in range(12)]
LONG_ALIAS = f"{'a' * 64}@{LONG_DOMAIN}"
LONG_GROUP = f"{'g' * 64}@{LONG_DOMAIN}"
LONG_SUBJECT = b"Subject: " + b"S" * 300 + b"\r\nFrom: " + b"f" * 64 + b"@spam.example\r\n\r\nbody\r\n"
USER_PASSWORD = "long-user-password-1"
# Not pages: XML and profiles for mail clients, probes, files, and routes that only take a POST.
NOT_PAGES = {"clientconfig.thunderbird", "clientconfig.mobileconfig", "health.healthz", "health.metrics", "static"}
# Steps of a sign-in or a password reset in progress: 404 to anyone signed in already.
SIGN_IN_STEPS = {"auth.second_factor", "reset.reset"}


def seed(db: Database) -> dict[str, object]:
    """The long world; returns the values the URL map's parameters take."""
    accounts.create_domain(db, LONG_DOMAIN, max_mailboxes=1000, actor=CONSOLE)
    accounts.add_alias_domain(db, f"{'x' * 63}.{'y' * 50}.example", LONG_DOMAIN, actor=CONSOLE)
    accounts.create_mailbox(db, LONG_USER, USER_PASSWORD, name=LONG_NAME, actor=CONSOLE)
    accounts.create_mailbox(db, f"{'m' * 64}@{LONG_DOMAIN}", USER_PASSWORD, name="Long Words " * 23, actor=CONSOLE)
    accounts.grant_role(db, f"{'m' * 64}@{LONG_DOMAIN}", domain=LONG_DOMAIN, actor=CONSOLE)
    accounts.create_alias(db, LONG_ALIAS, [LONG_USER, *LONG_REMOTE], actor=CONSOLE)
    accounts.create_alias(db, f"@{LONG_DOMAIN}", [LONG_USER], actor=CONSOLE)
    accounts.create_group(db, LONG_GROUP, [LONG_USER, *LONG_REMOTE], actor=CONSOLE)
    accounts.block_sender(db, LONG_DOMAIN, LONG_REMOTE[0], actor=CONSOLE)
    set_forwarding(db, LONG_USER, LONG_REMOTE[:3], keep_copy=True, actor=CONSOLE)
    notice = Notice(True, "O" * 255, "T" * 5000, None, None)
    out_of_office.set_out_of_office(db, LONG_USER, notice, actor=CONSOLE)
    junk = put_in_junk(db, LONG_USER, LONG_SUBJECT)
    token = tokens.create_token(db, ADMIN, name="t" * 120, domains=[LONG_DOMAIN], actor=CONSOLE).token.id
    manager = Actor(scope_of(f"{'m' * 64}@{LONG_DOMAIN}", is_global_admin=False, managed_domains=[LONG_DOMAIN]))
    accounts.update_mailbox(db, LONG_USER, name=LONG_NAME, actor=manager)  # an audit entry by a long address
    # A webhook to a long loopback URL, which only this setting lets in.
    hooks_to_anywhere = Database(dataclasses.replace(db.settings, webhook_allow_private=True))
    hook = create_webhook(hooks_to_anywhere, LONG_DOMAIN, f"http://127.0.0.1:9/{'p' * 200}", EVENTS, actor=CONSOLE)
    hooks_to_anywhere.dispose()
    logged = accept(db, LONG_USER, remote=LONG_REMOTE[:2], message_id=f"{'i' * 200}@{LONG_DOMAIN}", via="submission")
    suppress(db, LONG_USER, LONG_REMOTE[5])
    return {
        "name": LONG_DOMAIN, "source": LONG_ALIAS, "token_id": token, "message_id": junk, "webhook_id": hook.webhook.id,
        "log_id": logged, "action": "retry", "domain": LONG_DOMAIN,
    }


def portal_pages(db: Database, values: dict[str, object]) -> list[str]:
    """Every page of the portal (GET, not the API), its parameters filled with the long values."""
    app = create_app(db.settings, database=db)
    pages = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in (rule.methods or ()) or rule.rule.startswith("/api/") or rule.endpoint in NOT_PAGES | SIGN_IN_STEPS:
                continue
            address = {"groups": LONG_GROUP, "suppressions": LONG_REMOTE[5]}.get(rule.endpoint.partition(".")[0], LONG_USER)
            arguments = {name: values.get(name, address) for name in rule.arguments}
            pages.append(url_for(rule.endpoint, **arguments))
    return pages


def too_wide(page: Page, base: str, paths: list[str]) -> dict[str, tuple[int, int]]:
    """Pages whose document is wider than the viewport: path@width -> (scroll width, viewport)."""
    wide = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for path in paths:
            response = page.goto(f"{base}{path}")
            assert response is not None and response.status == 200, (path, response and response.status)
            scroll, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if scroll > viewport:
                wide[f"{path}@{width}"] = (scroll, viewport)
    return wide


def signed_in_page(browser: Browser, base: str, address: str, password: str) -> Page:
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{base}/login")
    page.get_by_label("Address").fill(address)
    page.get_by_label("Password").fill(password)
    submit(page, "Sign in")
    assert page.url.rstrip("/") != f"{base}/login", "signed in"
    return page


@pytest.fixture
def long_world(db: Database, portal_url: str) -> Iterator[dict[str, object]]:
    yield seed(db)


def test_no_page_is_wider_than_the_window(portal_url: str, browser: Browser, db: Database, long_world: dict[str, object]) -> None:
    database = db.settings.database_url.split(":", 1)[0].split("+")[0]
    paths = portal_pages(db, long_world)
    assert len(paths) >= 20 and "/mailboxes/" in paths and "/audit/" in paths  # the walk really walks
    admin = signed_in_page(browser, portal_url, ADMIN, PASSWORD)
    assert too_wide(admin, portal_url, paths) == {}
    for path, name in (("/mailboxes/", "layout-mailboxes"), ("/audit/", "layout-audit"), ("/aliases/", "layout-aliases")):
        admin.set_viewport_size({"width": 375, "height": 900})
        admin.goto(f"{portal_url}{path}")
        snap(admin, name, database)
    user = signed_in_page(browser, portal_url, LONG_USER, USER_PASSWORD)
    assert too_wide(user, portal_url, ["/account/", "/account/junk"]) == {}


def test_long_values_are_cut_with_the_full_text_on_hover(
    portal_url: str, browser: Browser, db: Database, long_world: dict[str, object]
) -> None:
    page = signed_in_page(browser, portal_url, ADMIN, PASSWORD)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{portal_url}/mailboxes/?domain={LONG_DOMAIN}")
    name = page.locator(f'[title="{LONG_NAME}"]').first
    assert name.evaluate("e => getComputedStyle(e).textOverflow") == "ellipsis"
    assert name.bounding_box()["width"] < 400  # type: ignore[index]
    page.goto(f"{portal_url}/audit/")
    assert page.locator(f'[title="{LONG_USER}"]').count() >= 1
    page.goto(f"{portal_url}/aliases/")
    listed = ", ".join([LONG_USER, *LONG_REMOTE])
    assert page.locator(f'[title="{listed}"]').count() == 1


def test_number_inputs_look_like_the_other_inputs(portal_url: str, browser: Browser, long_world: dict[str, object]) -> None:
    page = signed_in_page(browser, portal_url, ADMIN, PASSWORD)
    page.goto(f"{portal_url}/domains/{LONG_DOMAIN}/edit")
    style = "e => ['borderTopWidth', 'borderTopColor', 'borderRadius', 'paddingLeft', 'fontSize', 'width'].map(k => getComputedStyle(e)[k])"
    number = page.locator("input#max_mailboxes").evaluate(style)
    text = page.locator("input#quota").evaluate(style)
    assert page.locator("input#max_mailboxes").get_attribute("type") == "number"
    assert number == text
