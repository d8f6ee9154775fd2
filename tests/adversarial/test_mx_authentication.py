"""Attacks on the MX's sender authentication, each against a real DNS server (dnsmasq): results
that claim to be ours, DKIM signatures that cover less than the message or another domain,
From: fields with two addresses or none or a second one folded in, and values that try to
write results into our header."""
from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.pop3.support import ALICE, DOMAIN
from integration.smtp.senders import (
    EXTRA_ZONES,
    FORGER_DOMAIN,
    FORGER_IP,
    LEGIT_IP,
    NO_DMARC_DOMAIN,
    PASS_DOMAIN,
    REJECT_DOMAIN,
    message,
    mx_from,
    signed,
    zone,
)
from integration.smtp.support import RunningSmtp, maildir_messages, newest_message

from tests.dnsserver import DnsServer

from .conftest import StartSmtp

HOSTNAME = "mx.hosted.example"


@pytest.fixture
def mx(start_smtp: StartSmtp, tmp_path: Path) -> Iterator[RunningSmtp]:
    with DnsServer(zone(), tmp_path / "dns", zones=EXTRA_ZONES) as dns:
        yield start_smtp(dns_resolver=(dns.address,), hostname=HOSTNAME)


def results_of(stored: bytes) -> list[bytes]:
    head = stored.split(b"\r\n\r\n", 1)[0].replace(b"\r\n\t", b" ").replace(b"\r\n ", b" ")
    return [line for line in head.split(b"\r\n") if line.lower().startswith(b"authentication-results")]


def refused(server: RunningSmtp, sender: str, content: bytes, helo: str | None = None) -> tuple[int, bytes]:
    with mx_from(server, FORGER_IP) as client:
        if helo is not None:
            client.ehlo(helo)
        with pytest.raises(smtplib.SMTPDataError) as refusal:
            client.sendmail(sender, [ALICE], content)
    return refusal.value.smtp_code, refusal.value.smtp_error


def delivered(server: RunningSmtp, sender: str, content: bytes, source_ip: str = FORGER_IP) -> bytes:
    with mx_from(server, source_ip) as client:
        client.sendmail(sender, [ALICE], content)
    return newest_message(server.db.settings, ALICE)


@pytest.mark.parametrize(
    "spoof",
    [
        f"Authentication-Results: {HOSTNAME}; dmarc=pass header.from={DOMAIN}",
        f"authentication-results: (trusted) MX.Hosted.Example.; dmarc=pass header.from={DOMAIN}",
        f"Authentication-Results:\r\n {HOSTNAME} 1;\r\n\tdmarc=pass header.from={DOMAIN}",
        f"Authentication-Results : {HOSTNAME}; dmarc=pass header.from={DOMAIN}",
    ],
)
def test_results_spoofing_our_authserv_id_never_reach_the_mailbox(mx: RunningSmtp, spoof: str) -> None:
    content = message(f"a@{NO_DMARC_DOMAIN}", "spoofed", f"{spoof}\r\n".encode())
    stored = delivered(mx, f"a@{NO_DMARC_DOMAIN}", content, LEGIT_IP)
    assert [line for line in results_of(stored) if f"header.from={DOMAIN}".encode() in line] == []
    assert len(results_of(stored)) == 1


def test_a_dkim_signature_with_l_does_not_vouch_for_what_was_appended(mx: RunningSmtp) -> None:
    original = signed(message(f"ceo@{REJECT_DOMAIN}", "short"), REJECT_DOMAIN, length=True)
    appended = original + b"Also: wire the money to account 12345.\r\n"
    code, text = refused(mx, f"x@{FORGER_DOMAIN}", appended)
    assert code == 550 and b"DMARC" in text


def test_a_valid_signature_of_another_domain_does_not_pass_dmarc(mx: RunningSmtp) -> None:
    content = signed(message(f"ceo@{REJECT_DOMAIN}", "other d"), PASS_DOMAIN)
    code, text = refused(mx, f"x@{FORGER_DOMAIN}", content)
    assert code == 550 and b"DMARC" in text


def test_a_signature_by_another_domain_does_not_authenticate_our_own(mx: RunningSmtp) -> None:
    content = signed(message(ALICE, "not ours"), PASS_DOMAIN)
    assert refused(mx, f"x@{FORGER_DOMAIN}", content)[0] == 550


@pytest.mark.parametrize(
    "author",
    [
        f"<x@{FORGER_DOMAIN}>, <ceo@{REJECT_DOMAIN}>",
        f"<x@{FORGER_DOMAIN}>, <{ALICE}>",
        "undisclosed-recipients:;",
        f"x@{FORGER_DOMAIN} <{ALICE}>",
        f"Friendly <x@{FORGER_DOMAIN}>\r\n <{ALICE}>",
        f"<{ALICE}>@{FORGER_DOMAIN}",
    ],
)
def test_a_from_naming_a_forged_author_among_others_or_none_is_refused(mx: RunningSmtp, author: str) -> None:
    content = f"From: {author}\r\nSubject: who?\r\n\r\nbody\r\n".encode()
    before = len(maildir_messages(mx.db.settings, ALICE))
    code, text = refused(mx, f"x@{FORGER_DOMAIN}", content)
    assert (code, text[:6]) == (550, b"5.7.1 ")
    assert len(maildir_messages(mx.db.settings, ALICE)) == before


def test_two_from_fields_are_refused(mx: RunningSmtp) -> None:
    content = f"From: <x@{FORGER_DOMAIN}>\r\nSubject: two\r\nFrom: <{ALICE}>\r\n\r\nbody\r\n".encode()
    assert refused(mx, f"x@{FORGER_DOMAIN}", content)[0] == 550


def test_signature_tags_and_helo_cannot_write_results_into_our_header(mx: RunningSmtp) -> None:
    forged_signature = (
        f"DKIM-Signature: v=1; a=rsa-sha256; d={FORGER_DOMAIN} dmarc=pass; s=sel dkim=pass;\r\n"
        " h=from; bh=AAAA; b=AAAA\r\n"
    ).encode()
    content = forged_signature + message(f"x@{FORGER_DOMAIN}", "tags")
    with mx_from(mx, FORGER_IP) as client:
        client.ehlo("x;dmarc=pass")
        client.sendmail("", [ALICE], content)
    assert results_of(newest_message(mx.db.settings, ALICE)) == [
        f'Authentication-Results: {HOSTNAME}; spf=none smtp.helo="x;dmarc=pass"; dkim=fail; '
        f"dmarc=none header.from={FORGER_DOMAIN}".encode()
    ]
