"""Two-factor sign-in, sessions and password reset in Debian's chromium (Playwright) against
`beaconmail admin` (gunicorn): an authenticator app enrolled from its page and used at sign-in,
a passkey registered and used through Chromium's virtual authenticator (the DevTools WebAuthn
domain), the sessions list signing another browser out, a domain's requirement forcing the
enrolment, and a reset link mailed through the outbound queue to a loopback smarthost.

The portal is opened as http://localhost:PORT: WebAuthn takes a host name as relying party
(never an IP address), and localhost is a secure context without TLS."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from integration.admin.reset_mail import link_in, relaying, wait_for_mail
from playwright.sync_api import Browser, BrowserContext, Page, expect

from shared import accounts
from shared.accounts import second_factors
from shared.accounts.permissions import scope_of
from shared.accounts.views import CONSOLE, Actor
from shared.config import Settings
from shared.storage.db import Database

from .test_admin_browser import ADMIN, PASSWORD, browser, running_portal, snap, submit
from .test_admin_browser import environment as portal_environment

__all__ = ["browser"]  # the fixture the tests below take, shared with the admin browser tests

STAFF, STAFF_PASSWORD = "staff@portal.example", "staff-password-1"
RECOVERY = "staff.private@elsewhere.example"


@pytest.fixture
def portal(settings: Settings, db: Database, tmp_path: Path) -> Iterator[str]:
    with running_portal(settings, db, tmp_path / "processes", portal_environment(settings)) as url:
        accounts.create_mailbox(db, STAFF, STAFF_PASSWORD, actor=CONSOLE)
        yield url.replace("127.0.0.1", "localhost")


def database_of(settings: Settings) -> str:
    return settings.database_url.split(":", 1)[0].split("+")[0]


def new_page(browser: Browser) -> Page:
    return browser.new_context(locale="en-GB").new_page()


def password_step(page: Page, portal: str, address: str, password: str) -> None:
    page.goto(f"{portal}/login")
    page.get_by_label("Address").fill(address)
    page.get_by_label("Password").fill(password)
    submit(page, "Sign in")


def sign_out(page: Page) -> None:
    page.locator("#sign-out").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")


def virtual_authenticator(context: BrowserContext, page: Page) -> None:
    """A platform authenticator that says yes (Chromium's DevTools WebAuthn domain)."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def enrol_app(page: Page, portal: str) -> str:
    """From My account: the QR code and secret, a code from the "app", the recovery codes once."""
    page.goto(f"{portal}/account/two-factor/")
    submit(page, "Set up an authenticator app")
    expect(page.locator("#totp-enrolment svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code shown by the app").fill(pyotp.TOTP(secret).now())
    submit(page, "Turn on")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.locator("#codes-saved").click()
    expect(page.locator("#totp-on")).to_contain_text("Recovery codes left: 10.")
    return secret


def test_app_and_passkey_sign_in_and_sessions(portal: str, browser: Browser, settings: Settings, db: Database) -> None:
    database = database_of(settings)
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    virtual_authenticator(context, page)
    password_step(page, portal, ADMIN, PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.goto(f"{portal}/account/")
    expect(page.locator("#two-factor-status")).to_contain_text("Off")
    page.locator("#manage-two-factor").click()
    secret = enrol_app(page, portal)
    snap(page, "2fa-1-app-on", database)

    page.get_by_label("Name of the new passkey").fill("Test key")
    page.locator("#add-passkey").click()
    expect(page.get_by_role("status")).to_have_text("Passkey Test key added.")
    expect(page.locator("#passkeys")).to_contain_text("Test key")
    snap(page, "2fa-2-passkey-added", database)
    sign_out(page)

    password_step(page, portal, ADMIN, PASSWORD)
    expect(page).to_have_url(re.compile(r"/login/second-factor$"))
    page.get_by_label("Code from your app, or a recovery code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    submit(page, "Sign in")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    sign_out(page)

    password_step(page, portal, ADMIN, PASSWORD)
    page.locator("#use-passkey").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    [passkey] = second_factors.list_second_factors(db, ADMIN, actor=CONSOLE).passkeys
    assert passkey.last_used_at is not None

    other = new_page(browser)  # a second browser, signed in with a recovery code
    password_step(other, portal, ADMIN, PASSWORD)
    codes = second_factors.new_recovery_codes(db, ADMIN, actor=own(ADMIN))
    other.get_by_label("Code from your app, or a recovery code").fill(codes[0])
    submit(other, "Sign in")
    expect(other.get_by_role("heading", name="Dashboard")).to_be_visible()

    page.goto(f"{portal}/account/")
    rows = page.locator("#sessions tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#sessions tr.current")).to_contain_text("This browser")
    expect(page.locator("#sessions")).to_contain_text("Chrome")
    snap(page, "2fa-3-sessions", database)
    page.locator("#sessions tbody tr:not(.current)").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("That session is signed out.")
    expect(rows).to_have_count(1)
    other.goto(f"{portal}/account/")
    expect(other).to_have_url(re.compile(r"/login"))


def own(address: str) -> Actor:
    return Actor(scope_of(address, is_global_admin=False, managed_domains=()))


def test_a_domain_requiring_a_second_factor_sends_its_users_to_enrol(
    portal: str, browser: Browser, settings: Settings, db: Database
) -> None:
    admin = new_page(browser)
    password_step(admin, portal, ADMIN, PASSWORD)
    admin.goto(f"{portal}/domains/portal.example/edit")
    admin.get_by_label("Users must sign in with a second factor (they set one up at their next sign-in)").check()
    submit(admin, "Save")
    assert accounts.get_domain(db, "portal.example", actor=CONSOLE).require_2fa
    # The admin is in that domain too: sent to enrol at the next page.
    expect(admin.locator("#must-enrol")).to_be_visible()

    staff = new_page(browser)
    password_step(staff, portal, STAFF, STAFF_PASSWORD)
    expect(staff).to_have_url(re.compile(r"/account/two-factor/$"))
    for path in ("/account/", "/junk/", "/mailboxes/", "/account/out-of-office"):
        staff.goto(f"{portal}{path}")
        expect(staff).to_have_url(re.compile(r"/account/two-factor/$"))
    snap(staff, "2fa-4-must-enrol", database_of(settings))
    enrol_app(staff, portal)
    staff.goto(f"{portal}/account/")
    expect(staff.locator("#my-address")).to_have_text(STAFF)


def test_a_forgotten_password_is_reset_by_a_mailed_link(
    portal: str, browser: Browser, settings: Settings, db: Database
) -> None:
    elsewhere = new_page(browser)  # an old session, to be signed out by the reset
    password_step(elsewhere, portal, STAFF, STAFF_PASSWORD)
    page = new_page(browser)
    password_step(page, portal, STAFF, STAFF_PASSWORD)
    page.goto(f"{portal}/account/")
    page.get_by_label("Recovery address (elsewhere, for password reset links; empty = none)").fill(RECOVERY)
    submit(page, "Save recovery address")
    expect(page.get_by_role("status")).to_have_text("Your recovery address was saved.")
    sign_out(page)

    page.locator("#forgot-password").click()
    page.get_by_label("Your mail address").fill(STAFF)
    with relaying(db) as (collector, relay_db):
        submit(page, "Send the link")
        expect(page.get_by_role("status")).to_contain_text("If that address has a recovery address")
        [mail] = wait_for_mail(collector, relay_db)
    assert mail.recipients == (RECOVERY,)
    link, token = link_in(mail)
    page.goto(f"{portal}/password-reset/{token}")
    page.get_by_label("New password", exact=True).fill("a-brand-new-password")
    page.get_by_label("Repeat the new password").fill("a-brand-new-password")
    submit(page, "Set the password")
    expect(page.get_by_role("status")).to_contain_text("Your password was changed")
    snap(page, "2fa-5-reset-done", database_of(settings))
    password_step(page, portal, STAFF, "a-brand-new-password")
    expect(page.locator("#sign-out")).to_be_visible()  # signed in
    elsewhere.goto(f"{portal}/account/")
    expect(elsewhere).to_have_url(re.compile(r"/login"))
    page.goto(f"{portal}/password-reset/{token}")
    expect(page.locator("#reset-link-dead")).to_be_visible()
    assert link.endswith(token)
