"""The DNS records and client endpoints a domain publishes."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from conftest import base_settings

from shared.mail.dnsrecords import client_endpoints, records_for, txt, zone_text


def test_records_use_the_configured_host_and_ports(tmp_path: Path) -> None:
    settings = dataclasses.replace(
        base_settings(tmp_path), submission_port=587, submissions_port=465, pop3_port=110, pop3s_port=995, imap_port=143, imaps_port=993
    )
    records = records_for(settings, "shop.example", ("sel", "v=DKIM1; k=rsa; p=" + "A" * 400))
    zone = zone_text(records)
    assert "shop.example. 3600 IN MX 10 mx.test.example.\n" in zone
    assert "_submissions._tcp.shop.example. 3600 IN SRV 0 1 465 mx.test.example.\n" in zone
    assert "_submission._tcp.shop.example. 3600 IN SRV 10 1 587 mx.test.example.\n" in zone
    dkim = next(record for record in records if record.purpose == "dkim")
    assert dkim.name == "sel._domainkey.shop.example." and dkim.value.count('" "') == 1
    assert [(e.protocol, e.port, e.socket) for e in client_endpoints(settings)] == [
        ("imap", 993, "SSL"), ("imap", 143, "STARTTLS"), ("pop3", 995, "SSL"), ("pop3", 110, "STARTTLS"),
        ("smtp", 465, "SSL"), ("smtp", 587, "STARTTLS"),
    ]


def test_srv_records_prefer_imap_to_pop3(tmp_path: Path) -> None:
    """One priority order across both protocols tells a client which to choose (RFC 6186 §3.4)."""
    settings = dataclasses.replace(base_settings(tmp_path), pop3_port=110, pop3s_port=995, imap_port=143, imaps_port=993)
    access = [r.zone_line() for r in records_for(settings, "shop.example") if r.name.startswith(("_imap", "_pop3"))]
    assert access == [
        "_imaps._tcp.shop.example. 3600 IN SRV 0 1 993 mx.test.example.",
        "_imap._tcp.shop.example. 3600 IN SRV 10 1 143 mx.test.example.",
        "_pop3s._tcp.shop.example. 3600 IN SRV 20 1 995 mx.test.example.",
        "_pop3._tcp.shop.example. 3600 IN SRV 30 1 110 mx.test.example.",
    ]


def test_txt_values_are_quoted_and_split() -> None:
    assert txt('say "hi"') == '"say \\"hi\\""'
    assert txt("x" * 300) == '"' + "x" * 255 + '" "' + "x" * 45 + '"'
