"""The DNS health panel in a real browser: Debian's chromium driven by Playwright against
`beaconmail admin` (gunicorn), whose resolver is a dnsmasq serving a zone with one wrong record."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from shared import accounts
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.storage.db import Database
from tests.dnsserver import DnsServer, Record

from .processes import ProcessTracker, wait_for
from .test_admin_browser import ADMIN, CHROMIUM, CHROMIUM_ARGS, LISTENING, PASSWORD, environment, snap, submit

DOMAIN = "portal.example"
ZONE = [
    Record("mx.test.example", "A", "192.0.2.25"),
    Record(DOMAIN, "MX", "10 mx.test.example"),
    Record(DOMAIN, "TXT", "v=spf1 mx -all"),
    Record(f"beacon._domainkey.{DOMAIN}", "TXT", "v=DKIM1; k=rsa; p=MIIBnotourkey"),
    Record(f"_dmarc.{DOMAIN}", "TXT", "v=DMARC1; p=none"),
]


@pytest.fixture
def portal_url(settings: Settings, db: Database, tmp_path: Path) -> Iterator[str]:
    """`beaconmail admin` asking the test's DNS server, with one global admin of DOMAIN."""
    accounts.create_domain(db, DOMAIN, actor=CONSOLE)
    accounts.create_mailbox(db, ADMIN, PASSWORD, actor=CONSOLE)
    accounts.grant_role(db, ADMIN, global_admin=True, actor=CONSOLE)
    tracker = ProcessTracker(tmp_path / "processes")
    with DnsServer(ZONE, tmp_path / "dns") as dns:
        env = environment(settings) | {"BEACONMAIL_DNS_RESOLVER": dns.setting}
        command = [sys.executable, "-m", "services.cli", "admin", "--workers", "1"]
        server = tracker.start("admin", command, env=env, cwd=Path(__file__).resolve().parents[2])
        try:
            wait_for(lambda: LISTENING.search(server.errors()) is not None, 30, f"gunicorn to listen\n{server.describe()}")
            yield f"http://127.0.0.1:{LISTENING.search(server.errors()).group(1)}"  # type: ignore[union-attr]
        finally:
            tracker.stop_all()


@pytest.fixture
def page() -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_context(locale="en-GB").new_page()
        browser.close()


def test_the_domain_page_shows_which_records_do_not_match(portal_url: str, page: Page, settings: Settings) -> None:
    page.goto(f"{portal_url}/login")
    page.get_by_label("Address").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    submit(page, "Sign in")
    page.goto(f"{portal_url}/domains/{DOMAIN}")

    panel = page.locator("#dns-health")
    expect(panel.get_by_role("heading", name="DNS health")).to_be_visible()
    rows = panel.locator("tbody tr")
    expect(rows).to_have_count(12)
    mx = rows.filter(has_text="MX").first
    expect(mx.locator("td").nth(0)).to_have_text("✓ OK")
    dkim = rows.filter(has_text="DKIM")
    expect(dkim.locator("td").nth(0)).to_have_text("✗ Mismatch")
    expect(dkim.locator("td").nth(4)).to_have_text("v=DKIM1; k=rsa; p=MIIBnotourkey")
    expect(panel.locator("tr[data-ok=true]")).to_have_count(3)  # MX, SPF, DMARC
    expect(panel.get_by_text("9 of 12 records do not match.")).to_be_visible()
    snap(page, "dns-health", settings.database_url.split(":", 1)[0].split("+")[0])
