"""What a DNS server returns is shown on the domain page: whoever controls a hosted domain's
zone (or answers in its place) chooses those bytes. Script in a TXT record stays text, and a huge
record is cut to a readable length instead of filling the page."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from integration.admin.support import PortalClient
from integration.pop3.support import ALICE, ALICE_PW, DOMAIN

from services.admin import create_app
from shared.storage.db import Database
from tests.dnsserver import DnsServer, Record

from .conftest import Hosted

HOSTILE = "v=DKIM1; p=<script>alert(1)</script><img src=x onerror=alert(2)>"
FILLER = "A" * 900


def test_a_hostile_txt_record_is_escaped_and_cut_on_the_domain_page(hosted: Hosted, db: Database, tmp_path: Path) -> None:
    zone = [Record(f"beacon._domainkey.{DOMAIN}", "TXT", HOSTILE + FILLER), Record(DOMAIN, "MX", "10 mx.test.example")]
    with DnsServer(zone, tmp_path / "dns") as dns:
        asking_dns = Database(dataclasses.replace(db.settings, dns_resolver=(dns.address,)))
        client = PortalClient(create_app(asking_dns.settings, database=asking_dns).test_client())
        assert client.login(ALICE, ALICE_PW).status_code == 302
        page = client.get(f"/domains/{DOMAIN}").get_data(as_text=True)
        asking_dns.dispose()
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "A" * 700 not in page
    assert "more characters)" in page
    assert len(page) < 30_000
