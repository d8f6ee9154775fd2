"""The portal in Simplified Chinese in a real browser (Debian's chromium, Playwright) against
`beaconmail admin`: every page, as a global admin and as a plain user, and each form's errors,
with no English sentence of the catalogue and no raw byte count on any of them. Screenshots go
to tests/artifacts/admin/."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import Browser, Page

from services import admin
from shared import accounts
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.storage.db import Database
from tests.junkmail import put_in_junk

from .test_admin_browser import ADMIN, PASSWORD, browser, portal_url, snap

pytestmark = pytest.mark.e2e
__all__ = ["browser", "portal_url"]  # the fixtures this test shares with the portal's own

CATALOG = Path(admin.__file__).parent / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|%%")
# A byte count as shared stores it: a number with "bytes" or "B", or a bare one of whole KiB
# (other long numbers on the pages are limits and ports).
RAW_BYTES = re.compile(r"\b\d{4,}\s*(?:B|bytes|字节)(?!\w)|\b\d{5,}\b")
STAFF, STAFF_PASSWORD = "staff@portal.example", "staff-password-1"
DOMAIN = "portal.example"


def english_sentences() -> dict[str, str]:
    """Each catalogue message's literal pieces of two words or more (those between its
    placeholders) -> the msgid, leaving out what the translation itself keeps (names, examples)."""
    pieces: dict[str, str] = {}
    for message in read_po(io.BytesIO(CATALOG.read_bytes())):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid in filter(None, ids):
            for piece in PLACEHOLDER.split(msgid):
                piece = piece.strip(" :;,.()'\"“”")
                if len(piece) >= 10 and " " in piece and not any(piece in text for text in strings):
                    pieces[piece] = msgid
    return pieces


ENGLISH = english_sentences()


def is_byte_count(text: str) -> bool:
    return not text.isdigit() or int(text) % 1024 == 0


@dataclass
class Walk:
    """What the walk saw: each page's English pieces and raw byte counts, by step."""

    page: Page
    url: str
    problems: list[str] = field(default_factory=list)
    steps: int = 0

    def check(self, step: str, *, expect_error: bool = False) -> None:
        self.steps += 1
        text = self.page.inner_text("body")
        english = sorted({f"{piece!r} (of {msgid!r})" for piece, msgid in ENGLISH.items() if piece in text})
        self.problems += [f"{step}: English {found}" for found in english]
        self.problems += [f"{step}: raw size {found.group()!r}" for found in RAW_BYTES.finditer(text) if is_byte_count(found.group())]
        if expect_error and not self.page.locator(".error, .flash.error").count():
            self.problems.append(f"{step}: the refusal shows no error")

    def visit(self, path: str) -> None:
        self.page.goto(f"{self.url}{path}")
        self.check(f"GET {path}")

    def refuse(self, path: str, fields: dict[str, str], form: str = "main form.card", *, checks: tuple[str, ...] = ()) -> None:
        """Fill a form of the page at `path` with bad values, send it, and check the answer."""
        self.page.goto(f"{self.url}{path}")
        target = self.page.locator(form).first
        for name, value in fields.items():
            target.locator(f"[name={name}]").fill(value)
        for name in checks:
            target.locator(f"[name={name}]").first.check()
        target.locator("button[type=submit]").first.click()
        self.page.wait_for_load_state()
        self.check(f"POST {path} {fields}", expect_error=True)

    def upload(self, text: str) -> None:
        self.page.goto(f"{self.url}/import/")
        self.page.locator("[name=csv_file]").set_input_files(files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": text.encode()}])
        self.page.locator("#preview-import").click()
        self.page.wait_for_load_state()
        self.check("import preview", expect_error=True)


def sign_in(browser: Browser, url: str, address: str, password: str) -> Walk:
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{url}/login")
    page.locator("[name=address]").fill(address)
    page.locator("[name=password]").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    return Walk(page, url)


def furnish(db: Database) -> None:
    """A world with something on every page: a capped domain, an IDN one, a plain user with Junk."""
    accounts.update_domain(db, DOMAIN, quota_bytes=10 * 1024**3, max_mailboxes=4, actor=CONSOLE)
    accounts.create_domain(db, "bücher.example", actor=CONSOLE)
    accounts.create_mailbox(db, STAFF, STAFF_PASSWORD, quota_bytes=1024**3, actor=CONSOLE)
    accounts.create_mailbox(db, "jill@bücher.example", STAFF_PASSWORD, actor=CONSOLE)
    accounts.grant_role(db, "jill@bücher.example", domain="bücher.example", actor=CONSOLE)
    accounts.create_alias(db, f"sales@{DOMAIN}", [STAFF], actor=CONSOLE)
    accounts.create_group(db, f"team@{DOMAIN}", [STAFF, ADMIN], actor=CONSOLE)
    put_in_junk(db, STAFF)


def test_every_page_and_form_error_speaks_chinese(portal_url: str, browser: Browser, settings: Settings, db: Database) -> None:
    database = settings.database_url.split(":", 1)[0].split("+")[0]
    furnish(db)
    walk = sign_in(browser, portal_url, ADMIN, PASSWORD)
    for path in (
        "/", "/domains/", "/domains/new", f"/domains/{DOMAIN}", f"/domains/{DOMAIN}/edit", f"/domains/{DOMAIN}/dns",
        f"/domains/{DOMAIN}/delete", "/mailboxes/", "/mailboxes/new", f"/mailboxes/{STAFF}/edit", f"/mailboxes/{STAFF}/password",
        f"/mailboxes/{STAFF}/forwarding", f"/mailboxes/{STAFF}/delete", f"/mailboxes/{STAFF}/junk", "/aliases/", "/aliases/new",
        f"/aliases/sales@{DOMAIN}/edit", "/groups/", "/groups/new", f"/groups/team@{DOMAIN}/edit", "/audit/", "/import/",
        "/tokens/", "/suppressions/", "/account/", "/account/junk", "/no-such-page",
    ):
        walk.visit(path)
    snap(walk.page, "zh-1-pages", database)

    limits = {"max_mailboxes": "0", "max_aliases": "0", "quota": "0", "default_mailbox_quota": "0"}
    for name in ("-x.com", "x-.com", "exa mple", "a..example", "a_b.example", "example.123", "localhost", DOMAIN, "a" * 64 + ".com"):
        walk.refuse("/domains/new", {**limits, "name": name})
    walk.refuse("/domains/new", {**limits, "name": "new.example", "quota": "lots"})
    walk.refuse(f"/domains/{DOMAIN}/edit", {**limits, "max_aliases": "-1"})
    walk.refuse(f"/domains/{DOMAIN}", {"alias_name": "bad..name"}, form="form[action$='/alias-domains']")
    walk.refuse(f"/domains/{DOMAIN}", {"sender": "*@spam.example"}, form="#sender-form", checks=("listing",))
    walk.refuse(f"/domains/{DOMAIN}/delete", {"confirmation": "wrong.example"})
    mailbox = {"local": "newbie", "name": "", "quota": "", "password": "long-enough-1"}
    walk.refuse("/mailboxes/new", {**mailbox, "local": "bad local"})
    walk.refuse("/mailboxes/new", {**mailbox, "quota": "11G"})
    walk.refuse("/mailboxes/new", {**mailbox, "password": "short"})
    walk.refuse("/mailboxes/new", {**mailbox, "local": "staff"})
    walk.refuse(f"/mailboxes/{STAFF}/edit", {"quota": "20G"})
    walk.refuse(f"/mailboxes/{STAFF}/edit", {"quota": "lots"})
    walk.refuse(f"/mailboxes/{STAFF}/password", {"password": "short"})
    walk.refuse(f"/mailboxes/{STAFF}/forwarding", {"destinations": "not an address"})
    walk.refuse(f"/mailboxes/{STAFF}/forwarding", {"destinations": STAFF})
    walk.refuse(f"/mailboxes/{STAFF}/delete", {"confirmation": "someone@else.example"})
    walk.refuse("/aliases/new", {"local": "info", "destinations": "bad address"})
    walk.refuse("/aliases/new", {"local": "loop", "destinations": f"loop@{DOMAIN}"})
    walk.refuse("/aliases/new", {"local": "staff", "destinations": ADMIN})
    walk.refuse(f"/aliases/sales@{DOMAIN}/edit", {"destinations": ""})
    walk.refuse("/groups/new", {"local": "crew", "members": ""})
    walk.refuse("/groups/new", {"local": "self", "members": f"self@{DOMAIN}"})
    walk.refuse(f"/groups/team@{DOMAIN}/edit", {"members": "nobody at all"})
    walk.refuse("/tokens/", {"name": ""}, form="form[action$='/tokens/']")
    walk.refuse("/account/", {"current_password": "wrong-one-1", "new_password": "new-password-1", "repeat_password": "new-password-1"},
                form="form[action$='/account/password']")
    walk.upload("address,colour\nnew@portal.example,red\n")
    walk.upload(
        "address,name,password,quota\n"
        + "".join(f"new{n}@{DOMAIN},New {n},password-{n}-long,\n" for n in range(4))
        + f"staff@{DOMAIN},Taken,password-long-1,\nbad address,Bad,password-long-2,lots\nx@elsewhere.example,Out,,\n"
    )
    snap(walk.page, "zh-2-import-over-limit", database)
    assert walk.page.inner_text("body").count(f"此文件将添加 4 个邮箱；{DOMAIN} 的上限为 4 个，还能再添加 2 个") == 1

    user = sign_in(browser, portal_url, STAFF, STAFF_PASSWORD)
    for path in ("/", "/account/", "/account/junk", "/domains/", "/mailboxes/", "/audit/", f"/mailboxes/{ADMIN}/edit"):
        user.visit(path)
    user.refuse("/account/", {"destinations": "not an address"}, form="#forwarding")
    user.refuse("/account/", {"destinations": STAFF}, form="#forwarding")
    user.refuse("/account/", {"starts_on": "2030-01-10", "ends_on": "2030-01-01", "text": "away"}, form="#out-of-office", checks=("enabled",))
    user.refuse("/account/", {"current_password": "wrong-one-1", "new_password": "new-password-1", "repeat_password": "other-password-1"},
                form="form[action$='/account/password']")
    snap(user.page, "zh-3-user-form-error", database)

    assert walk.steps + user.steps > 70
    assert not walk.problems + user.problems, "\n".join(walk.problems + user.problems)
