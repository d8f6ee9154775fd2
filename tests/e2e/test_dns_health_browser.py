"""The DNS health panel in a real browser: Debian's chromium driven by Playwright against
`beaconmail admin` (gunicorn), whose resolver is a dnsmasq serving a zone with one wrong record."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from shared.config import Settings
from shared.storage.db import Database
from tests.dnsserver import DnsServer, Record

from .test_admin_browser import browser, environment, running_portal, sign_in, snap

__all__ = ["browser"]  # the fixture this test shares with the portal's own

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
    """`beaconmail admin` asking the test's DNS server."""
    with DnsServer(ZONE, tmp_path / "dns") as dns:
        env = environment(settings) | {"BEACONMAIL_DNS_RESOLVER": dns.setting}
        with running_portal(settings, db, tmp_path / "processes", env) as url:
            yield url


def test_the_domain_page_shows_which_records_do_not_match(portal_url: str, browser: Browser, settings: Settings) -> None:
    page = browser.new_context(locale="en-GB").new_page()
    sign_in(page, portal_url)
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
