"""The portal in a real browser: Debian's chromium driven by Playwright against
`beaconmail admin` (gunicorn) on a free loopback port, and its API with curl. Screenshots go
to tests/artifacts/admin/."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from integration.pop3.support import FAST, RunningServer
from integration.pop3.support import login as pop3_login
from playwright.sync_api import Browser, Page, expect, sync_playwright

from shared import accounts
from shared.accounts import tokens
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.storage.db import Database
from tests.conftest import require_programs, require_user_attributes
from tests.junkmail import SPAM, dovecot_seen, junk_file, maildir_of, put_in_junk

from .processes import ProcessTracker, wait_for

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "admin"
ADMIN, PASSWORD = "chief@portal.example", "chief-password-1"
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


def environment(settings: Settings) -> dict[str, str]:
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith("BEACONMAIL_")},
        "BEACONMAIL_DATABASE_URL": settings.database_url,
        "BEACONMAIL_DATA_DIR": str(settings.data_dir),
        "BEACONMAIL_HOSTNAME": settings.hostname,
        "BEACONMAIL_SECRET_KEY": settings.secret_key,
        "BEACONMAIL_ADMIN_PORT": "0",
    }


@contextmanager
def running_portal(settings: Settings, db: Database, folder: Path, env: dict[str, str]) -> Iterator[str]:
    """`beaconmail admin` on a free port (gunicorn reports it), with one global admin of portal.example."""
    accounts.create_domain(db, "portal.example", actor=CONSOLE)
    accounts.create_mailbox(db, ADMIN, PASSWORD, actor=CONSOLE)
    accounts.grant_role(db, ADMIN, global_admin=True, actor=CONSOLE)
    tracker = ProcessTracker(folder)
    command = [sys.executable, "-m", "services.cli", "admin", "--workers", "1"]
    server = tracker.start("admin", command, env=env, cwd=Path(__file__).resolve().parents[2])
    try:
        wait_for(lambda: LISTENING.search(server.errors()) is not None, 30, f"gunicorn to listen\n{server.describe()}")
        yield f"http://127.0.0.1:{LISTENING.search(server.errors()).group(1)}"  # type: ignore[union-attr]
    finally:
        tracker.stop_all()


@pytest.fixture
def portal_url(settings: Settings, db: Database, tmp_path: Path) -> Iterator[str]:
    with running_portal(settings, db, tmp_path / "processes", environment(settings)) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def snap(page: Page, name: str, database: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{database}-{name}.png"), full_page=True)


def sign_in(page: Page, portal_url: str) -> None:
    """As the global admin, in English."""
    page.goto(f"{portal_url}/login")
    page.get_by_label("Address").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    submit(page, "Sign in")


def submit(page: Page, label: str) -> None:
    page.get_by_role("button", name=label).click()
    page.wait_for_load_state()


def fill_and_save(page: Page, url: str, fields: dict[str, str], choose: dict[str, str] | None = None) -> None:
    page.goto(url)
    for label, value in fields.items():
        page.get_by_label(label).fill(value)
    for label, value in (choose or {}).items():
        page.get_by_label(label).select_option(value)
    submit(page, "Save")


def test_admin_works_in_a_real_browser(portal_url: str, browser: Browser, settings: Settings, db: Database) -> None:
    database = settings.database_url.split(":", 1)[0].split("+")[0]
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{portal_url}/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Address").fill(ADMIN)
    page.get_by_label("Password").fill("wrong-password")
    submit(page, "Sign in")
    expect(page.get_by_role("alert")).to_have_text("Wrong address or password.")
    page.get_by_label("Password").fill(PASSWORD)
    submit(page, "Sign in")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "beaconmail_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    snap(page, "1-dashboard", database)

    page.get_by_role("link", name="Domains").first.click()
    page.locator("#new-domain").click()
    page.get_by_label("Domain name").fill("shop.example")
    page.get_by_label("Max mailboxes (0 = no limit)").fill("25")
    page.get_by_label("Total storage cap (0 = no limit)").fill("5G")
    submit(page, "Create domain")
    expect(page.get_by_role("status")).to_have_text("Domain shop.example created.")
    snap(page, "2-domain", database)

    page.goto(f"{portal_url}/mailboxes/new?domain=shop.example")
    page.get_by_label("User name").fill("anna")
    page.get_by_label("Display name").fill("Anna")
    page.get_by_label("Generate a password and show it once").check()
    page.get_by_label("Quota (blank = domain default, 0 = no limit)").fill("1G")
    submit(page, "Create mailbox")
    generated = page.locator("#generated-password").inner_text()
    assert accounts.authenticate(db, "anna@shop.example", generated, "portal", "127.0.0.1").quota_bytes == 1024**3
    snap(page, "3-mailbox", database)

    alias = {"Address (blank = catch-all for the domain)": "sales", "Deliver to (one address per line)": "anna@shop.example\npartner@remote.example"}
    fill_and_save(page, f"{portal_url}/aliases/new?domain=shop.example", alias)
    expect(page.get_by_role("status")).to_have_text("Alias sales@shop.example created.")
    group = {"Group address": "team", "Members (one address per line)": "anna@shop.example"}
    fill_and_save(page, f"{portal_url}/groups/new?domain=shop.example", group, choose={"Who may write to the group": "members"})
    expect(page.get_by_role("status")).to_have_text("Group team@shop.example created.")
    snap(page, "4-group", database)

    page.goto(f"{portal_url}/mailboxes/?q=anna")
    page.get_by_role("link", name="anna@shop.example").click()
    page.get_by_label("Quota (0 = no limit)").fill("2G")
    submit(page, "Save")
    expect(page.get_by_role("status")).to_have_text("Mailbox anna@shop.example saved.")
    expect(page.locator("#quota-usage")).to_contain_text("0 B / 2 GiB")
    assert accounts.get_mailbox(db, "anna@shop.example", actor=CONSOLE).quota_bytes == 2 * 1024**3

    page.get_by_role("button", name="简体中文").click()
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("link", name="邮箱").first).to_be_visible()
    snap(page, "5-chinese", database)

    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("status")).to_have_text("您已退出登录。")
    page.goto(f"{portal_url}/mailboxes/")
    expect(page).to_have_url(re.compile(r"/login"))
    snap(page, "6-signed-out", database)


def pop3_listing(server: RunningServer, address: str, password: str) -> list[tuple[str, bytes]]:
    """(UIDL, message) of each message, as a POP3 client sees the inbox."""
    client = pop3_login(server, address, password)
    try:
        uidls = [line.split() for line in client.uidl()[1]]
        return [(uid.decode(), b"\r\n".join(client.retr(int(number))[1]) + b"\r\n") for number, uid in uidls]
    finally:
        client.quit()


def test_staff_release_junk_and_pop3_serves_it(portal_url: str, browser: Browser, settings: Settings, db: Database) -> None:
    """A junked message seen by an IMAP client (Dovecot renamed it into cur/ with flags) is
    released in the browser; POP3 then serves it under the UIDL it was stored with, and keeps
    that UIDL when Dovecot renames it again."""
    database = settings.database_url.split(":", 1)[0].split("+")[0]
    staff, password = "staff@portal.example", "staff-password-1"
    accounts.create_mailbox(db, staff, password, actor=CONSOLE)
    require_user_attributes(maildir_of(db, staff) / "tmp")
    uid = put_in_junk(db, staff)
    dovecot_seen(junk_file(db, staff, uid))

    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{portal_url}/login")
    page.get_by_label("Address").fill(staff)
    page.get_by_label("Password").fill(password)
    submit(page, "Sign in")
    page.get_by_role("link", name="Junk").click()
    row = page.locator("#junk tbody tr", has_text="You have wön")
    expect(row.locator(".score")).to_have_text("12.5")
    expect(row).to_contain_text("DMARC quarantine")
    snap(page, "7-junk", database)
    row.get_by_role("button", name="Release").click()
    expect(page.get_by_role("status")).to_have_text("The message was moved to your inbox.")
    expect(page.locator("#junk-empty")).to_have_text("No messages in Junk.")
    snap(page, "8-junk-released", database)

    server = RunningServer(dataclasses.replace(settings, **FAST))
    try:
        assert pop3_listing(server, staff, password) == [(uid, SPAM)]
        [released] = (maildir_of(db, staff) / "new").iterdir()
        dovecot_name = f"{int(time.time())}.M1P2.dovecot,S={len(SPAM)}:2,S"  # an IMAP move away and back
        os.link(released, maildir_of(db, staff) / "cur" / dovecot_name)
        released.unlink()
        assert pop3_listing(server, staff, password) == [(uid, SPAM)]
    finally:
        server.stop()


def test_junk_api_over_http(portal_url: str, db: Database) -> None:
    """curl against gunicorn: list, release, and the JSON errors a script meets."""
    require_programs("curl", install_hint="apt install curl")
    accounts.create_mailbox(db, "carol@portal.example", "carol-password-1", actor=CONSOLE)
    uid = put_in_junk(db, "carol@portal.example")
    secret = tokens.create_token(db, ADMIN, name="curl", read_only=False, actor=CONSOLE).secret
    base = f"{portal_url}/api/v1/mailboxes/carol@portal.example/junk"

    def curl(*args: str) -> tuple[int, str]:
        done = subprocess.run(
            ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {secret}", *args],
            capture_output=True, text=True, timeout=30, check=True,
        )
        body, _, status = done.stdout.rpartition("\n")
        return int(status), body

    status, body = curl(base)
    assert status == 200 and [item["id"] for item in json.loads(body)["items"]] == [uid]
    assert json.loads(body)["items"][0]["score"] == 12.5
    status, body = curl("-X", "POST", f"{base}/..%5Cetc/release")
    assert status == 400 and json.loads(body)["error"]["code"] == "bad_request"
    assert curl("-X", "POST", f"{base}/{uid}/release")[0] == 204
    status, body = curl("-X", "DELETE", f"{base}/{uid}")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    assert curl(f"{portal_url}/api/v1/mailboxes/nobody@portal.example/junk")[0] == 404
