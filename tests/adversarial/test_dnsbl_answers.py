"""A blocklist's DNS answers come from outside: only what RFC 5782 calls a listing may refuse mail.

An A answer outside 127.0.0.0/8 (a resolver that rewrites NXDOMAIN to an ad server, a list that
was taken over or retired and now answers everything with a real address) lists no one."""

from __future__ import annotations

from pathlib import Path

import pytest
from integration.smtp.support import RawSmtp

from tests.dnsserver import DnsServer, Record

from .conftest import StartSmtp

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("answer", ["10.0.0.2", "192.0.2.1", "128.0.0.1"])
def test_an_answer_outside_127_8_is_not_a_listing(start_smtp: StartSmtp, tmp_path: Path, answer: str) -> None:
    with DnsServer([Record("2.0.0.127.hijacked.test", "A", answer)], tmp_path / "dns") as dns:
        server = start_smtp(dnsbl=("hijacked.test",), dns_resolver=(dns.address,))
        client = RawSmtp(server.mx, source_ip="127.0.0.2")
        assert client.command(b"EHLO client.example").startswith(b"250")
        assert client.command(b"MAIL FROM:<someone@remote.example>").startswith(b"250")
        assert client.command(b"RCPT TO:<alice@hosted.example>").startswith(b"250 2.1.5")
        client.close()
