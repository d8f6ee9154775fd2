"""Message tracking with real clients: swaks submits (the transcript's 250 names the log id),
curl reads the message from the JSON API, and Chromium finds it on the Message log page, opens
its timeline, and gives up on its queued recipient from the Queue page after the confirm step."""
from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from integration.smtp.support import RunningSmtp
from playwright.sync_api import Browser, expect

from shared import accounts
from shared.accounts import tokens
from shared.accounts.message_tracking import get_message
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.storage.db import Database
from tests.messagelog import accept

from .mailclients import Account, swaks_submit
from .test_admin_browser import ADMIN, PASSWORD, browser, portal_url, sign_in, submit

pytestmark = pytest.mark.e2e
__all__ = ["browser", "portal_url"]
QUEUED_AS = re.compile(r"<~ +250 2\.0\.0 Ok: queued as ([0-9a-f]{20})")
STAFF, FAR = "staff@portal.example", "far@remote.example"
PER_PAGE = 50  # services/admin/message_log.py


def curl_json(url: str, token: str) -> object:
    result = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-H", f"Authorization: Bearer {token}", url],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return json.loads(result.stdout)


def check_filters_with_curl(portal_url: str, token: str, log_id: str) -> None:
    """Each filter as a script writes it in a URL: a zone's `+` unencoded, a bare day, Unix seconds."""
    now = datetime.now(timezone.utc)
    hour_ago = (now - timedelta(hours=1)).astimezone(timezone(timedelta(hours=2))).isoformat(timespec="seconds")
    for query in (
        f"sender={ADMIN}&status=queued", f"recipient={FAR}", "message_id=e2e@portal.example", "status=delivered",
        f"since={hour_ago}", f"since={now.date()}&until={now.date()}", f"until={int(now.timestamp()) + 60}",
    ):
        listed = curl_json(f"{portal_url}/api/v1/messages?{query}", token)
        assert [item["id"] for item in listed["items"]] == [log_id], query  # type: ignore[index]
    for query in ("status=sent", "since=yesterday", "cursor=x", "limit=-1"):
        result = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"Authorization: Bearer {token}",
             f"{portal_url}/api/v1/messages?{query}"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        assert result.stdout == b"422", query


def test_a_submitted_message_is_tracked_by_swaks_curl_and_the_browser(
    portal_url: str, browser: Browser, settings: Settings, db: Database, tmp_path: Path
) -> None:
    accounts.create_mailbox(db, STAFF, "staff-password-1", actor=CONSOLE)
    smtp = RunningSmtp(db)
    try:
        message = b"From: <chief@portal.example>\r\nSubject: tracked\r\nMessage-ID: <e2e@portal.example>\r\n\r\nhello\r\n"
        transcript = swaks_submit(smtp.submission, Account(ADMIN, PASSWORD), [STAFF, FAR], message, tmp_path)
    finally:
        smtp.stop()
    found = QUEUED_AS.search(transcript)
    assert found, transcript
    log_id = found.group(1)

    token = tokens.create_token(db, ADMIN, name="e2e", read_only=True, actor=CONSOLE).secret
    listed = curl_json(f"{portal_url}/api/v1/messages?recipient={STAFF}", token)
    assert [item["id"] for item in listed["items"]] == [log_id]  # type: ignore[index]
    check_filters_with_curl(portal_url, token, log_id)
    one = curl_json(f"{portal_url}/api/v1/messages/{log_id}", token)
    assert one["message_id"] == "e2e@portal.example" and one["via"] == "submission"  # type: ignore[index]
    states = {r["address"]: [e["status"] for e in r["timeline"]] for r in one["recipients"]}  # type: ignore[index]
    assert states == {STAFF: ["delivered"], FAR: ["queued"]}

    page = browser.new_context(locale="en-GB").new_page()
    sign_in(page, portal_url)
    page.get_by_role("link", name="Message log").click()
    page.get_by_label("Recipient", exact=True).fill(STAFF)
    submit(page, "Search")
    page.get_by_role("link", name=log_id).click()
    expect(page.get_by_role("heading", name=f"Message {log_id}")).to_be_visible()
    expect(page.locator(f'section[data-recipient="{FAR}"]')).to_contain_text("queued")

    page.get_by_role("link", name="Queue", exact=True).click()
    row = page.locator(f'#queue tr[data-id="{log_id}"]')
    row.get_by_role("link", name="Give up and bounce").click()
    expect(page.locator(".warning")).to_contain_text(FAR)
    submit(page, "Give up and bounce")
    expect(page.get_by_role("status")).to_contain_text("were given up and bounced to the sender")
    expect(page.locator("#queue-empty")).to_be_visible()
    assert {r.address: r.status for r in get_message(db, log_id, actor=CONSOLE).recipients} == {
        STAFF: "delivered", FAR: "bounced"
    }
    assert accounts.list_audit(db, actor=CONSOLE, action="queue.bounce")[0].target == log_id


def test_the_log_is_searched_by_every_field_and_paged_and_a_retry_is_audited_in_the_browser(
    portal_url: str, browser: Browser, db: Database
) -> None:
    accounts.create_mailbox(db, STAFF, "staff-password-1", actor=CONSOLE)
    oldest = accept(db, "outsider@remote.example", local=[STAFF], message_id="oldest@remote.example")
    for number in range(PER_PAGE):
        accept(db, "bulk@remote.example", local=[STAFF], message_id=f"bulk-{number}@remote.example")
    waiting = accept(db, ADMIN, remote=[FAR], via="submission", message_id="waiting@portal.example")
    today = datetime.now(timezone.utc).date()

    page = browser.new_context(locale="en-GB").new_page()
    sign_in(page, portal_url)
    page.get_by_role("link", name="Message log").click()
    rows = page.locator("#message-log tbody tr")
    expect(rows).to_have_count(PER_PAGE)
    expect(page.locator(f'tr[data-id="{waiting}"]')).to_be_visible()
    expect(page.locator(f'tr[data-id="{oldest}"]')).to_have_count(0)
    page.get_by_role("link", name="Older").click()
    expect(page.locator(f'tr[data-id="{oldest}"]')).to_be_visible()
    expect(page.locator(f'tr[data-id="{waiting}"]')).to_have_count(0)
    page.get_by_role("link", name="Newest").click()
    expect(rows).to_have_count(PER_PAGE)

    def search(fields: dict[str, str], status: str = "") -> None:
        page.goto(f"{portal_url}/messages/")
        for label, value in fields.items():
            page.get_by_label(label, exact=True).fill(value)
        if status:
            page.get_by_label("Status").select_option(status)
        submit(page, "Search")

    for fields, status, found in (
        ({"Sender": "Outsider@remote.example"}, "", oldest),
        ({"Recipient": FAR}, "", waiting),
        ({"Message-ID": "<waiting@portal.example>"}, "", waiting),
        ({}, "queued", waiting),
        ({"Sender": "outsider@remote.example", "From day": str(today), "To day": str(today)}, "delivered", oldest),
    ):
        search(fields, status)
        expect(rows).to_have_count(1)
        expect(page.locator(f'tr[data-id="{found}"]')).to_be_visible()
    search({"To day": str(today - timedelta(days=1))})
    expect(page.locator("#log-empty")).to_be_visible()

    page.get_by_role("link", name="Queue", exact=True).click()
    row = page.locator(f'#queue tr[data-id="{waiting}"]')
    expect(row).to_contain_text(FAR)
    row.get_by_role("link", name="Retry now").click()
    submit(page, "Retry now")
    expect(page.get_by_role("status")).to_contain_text("will be tried again now")
    assert accounts.list_audit(db, actor=CONSOLE, action="queue.retry")[0].target == waiting
