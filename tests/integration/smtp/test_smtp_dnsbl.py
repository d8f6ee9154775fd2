"""DNS blocklists at the MX (RFC 5782, BEACONMAIL_DNSBL): a listed client gets 554 5.7.1 naming
the list at RCPT, except for the postmaster of a hosted domain (RFC 5321 §4.5.1); authenticated
submission is never checked. The lists are served by a real DNS server (dnsmasq) on loopback,
and clients connect from different 127/8 source addresses to be listed or not."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dnsserver import DnsServer, Record

from .conftest import StartSmtp
from .support import ALICE, ALICE_PW, RawSmtp, RunningSmtp, client_context, message_count, newest_message

pytestmark = pytest.mark.integration

LISTED, CLEAN, LISTED_ELSEWHERE = "127.0.0.2", "127.0.0.3", "127.0.0.4"
BLOCKLIST_RECORDS = [
    Record("2.0.0.127.bl.test", "A", "127.0.0.2"),
    Record("2.0.0.127.bl.test", "TXT", "listed for tests"),
    Record("4.0.0.127.other-bl.test", "A", "127.0.0.10"),
]


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[DnsServer]:
    with DnsServer(BLOCKLIST_RECORDS, tmp_path / "dns") as server:
        yield server


@pytest.fixture
def mx(start_smtp: StartSmtp, dns: DnsServer) -> RunningSmtp:
    return start_smtp(dnsbl=("bl.test", "other-bl.test"), dns_resolver=(dns.address,))


def mx_session(server: RunningSmtp, source_ip: str) -> RawSmtp:
    client = RawSmtp(server.mx, source_ip=source_ip)
    assert client.command(b"EHLO client.example").startswith(b"250")
    assert client.command(b"MAIL FROM:<someone@remote.example>").startswith(b"250")
    return client


@pytest.mark.parametrize(
    ("source_ip", "recipient", "zone"),
    [
        (LISTED, b"alice@hosted.example", b"bl.test"),
        (LISTED_ELSEWHERE, b"alice@hosted.example", b"other-bl.test"),
        # the postmaster of a domain we do not host gets no exemption
        (LISTED, b"postmaster@remote.example", b"bl.test"),
    ],
)
def test_listed_client_is_refused_at_rcpt_with_the_list_named(
    mx: RunningSmtp, source_ip: str, recipient: bytes, zone: bytes
) -> None:
    client = mx_session(mx, source_ip)
    assert client.command(b"RCPT TO:<" + recipient + b">") == b"554 5.7.1 Client address is listed by " + zone + b"\r\n"
    assert client.command(b"DATA").startswith(b"503")
    client.close()


def test_unlisted_client_is_accepted(mx: RunningSmtp) -> None:
    client = mx_session(mx, CLEAN)
    assert client.command(b"RCPT TO:<alice@hosted.example>").startswith(b"250 2.1.5")
    client.close()


def test_listed_client_still_reaches_the_postmaster(mx: RunningSmtp) -> None:
    before = message_count(mx.settings, ALICE)
    client = mx_session(mx, LISTED)
    assert client.command(b"RCPT TO:<postmaster@hosted.example>").startswith(b"250 2.1.5")
    assert client.command(b"RCPT TO:<postmaster>").startswith(b"250 2.1.5")
    assert client.command(b"RCPT TO:<alice@hosted.example>").startswith(b"554 5.7.1")
    assert client.command(b"DATA").startswith(b"354")
    assert client.command(b"Subject: please delist me\r\n\r\nwhy am I listed?\r\n.").startswith(b"250")
    client.close()
    # alice manages hosted.example, so she is its postmaster; both recipients are one copy.
    assert message_count(mx.settings, ALICE) == before + 1
    assert newest_message(mx.settings, ALICE).endswith(b"why am I listed?\r\n")


def test_authenticated_submission_is_never_checked(mx: RunningSmtp) -> None:
    with smtplib.SMTP("127.0.0.1", mx.submission, timeout=10, source_address=(LISTED, 0)) as client:
        client.starttls(context=client_context(mx.settings))
        client.login(ALICE, ALICE_PW)
        client.mail(ALICE)
        assert client.rcpt("bob@hosted.example")[0] == 250


def test_a_list_that_cannot_be_asked_lists_no_one(start_smtp: StartSmtp, dns: DnsServer) -> None:
    """Names outside the test server's zones are REFUSED: the lookup fails, the mail goes on."""
    server = start_smtp(dnsbl=("bl.unreachable-zone.example",), dns_resolver=(dns.address,))
    client = mx_session(server, LISTED)
    assert client.command(b"RCPT TO:<alice@hosted.example>").startswith(b"250 2.1.5")
    client.close()


def test_a_session_asks_the_lists_once(start_smtp: StartSmtp, tmp_path: Path) -> None:
    """The first RCPT's answer holds for the whole session: with the list's DNS server gone and
    the answer past its TTL, the same session is still refused, while a new one (whose lookup
    now fails) is not."""
    with DnsServer(BLOCKLIST_RECORDS, tmp_path / "dns", ttl=1) as dns:
        server = start_smtp(dnsbl=("bl.test",), dns_resolver=(dns.address,))
        first = mx_session(server, LISTED)
        assert first.command(b"RCPT TO:<alice@hosted.example>").startswith(b"554 5.7.1")
    time.sleep(1.5)  # the resolver's cache forgets the answer after its 1 s TTL
    assert first.command(b"RCPT TO:<bob@hosted.example>").startswith(b"554 5.7.1")
    second = mx_session(server, LISTED)
    assert second.command(b"RCPT TO:<alice@hosted.example>").startswith(b"250 2.1.5")
    first.close()
    second.close()
