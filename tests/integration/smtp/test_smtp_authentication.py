"""Sender authentication at the MX against a real DNS server (dnsmasq): SPF, DKIM, DMARC in the
Authentication-Results header, the end-of-DATA policy, own-domain forgery, Junk for
quarantine, and none of it on submission."""
from __future__ import annotations

import shutil
import smtplib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import update

from shared.accounts import create_group, create_mailbox
from shared.accounts.views import CONSOLE
from shared.storage.db import Database
from shared.storage.models import Domain
from tests.dnsserver import DnsServer

from .conftest import StartSmtp
from .senders import (
    EXTRA_ZONES,
    FORGER_DOMAIN,
    FORGER_IP,
    HELO,
    LEGIT_IP,
    NO_DMARC_DOMAIN,
    PASS_DOMAIN,
    QUARANTINE_DOMAIN,
    REJECT_DOMAIN,
    junk_messages,
    message,
    mx_from,
    signed,
    zone,
)
from .support import (
    ALICE,
    ALICE_PW,
    BOB,
    DOMAIN,
    RunningSmtp,
    corpus_dir,
    maildir_messages,
    message_count,
    newest_message,
    submit,
)
from .test_smtp_clients import _BARE_LF, REFUSED, stored_body

pytestmark = pytest.mark.integration
HOSTNAME = "mx.hosted.example"


@dataclass
class Mx:
    server: RunningSmtp
    dns: DnsServer

    @property
    def db(self) -> Database:
        return self.server.db


@pytest.fixture
def mx(start_smtp: StartSmtp, tmp_path: Path) -> Iterator[Mx]:
    with DnsServer(zone(), tmp_path / "dns", zones=EXTRA_ZONES) as dns:
        yield Mx(start_smtp(dns_resolver=(dns.address,)), dns)


def results_of(stored: bytes) -> list[bytes]:
    head = stored.split(b"\r\n\r\n", 1)[0]
    return [line for line in head.split(b"\r\n") if line.lower().startswith(b"authentication-results:")]


def deliver_from(server: RunningSmtp, source_ip: str, sender: str, content: bytes, to: str = ALICE) -> None:
    with mx_from(server, source_ip) as client:
        client.sendmail(sender, [to], content)


def refusal(server: RunningSmtp, source_ip: str, sender: str, content: bytes, to: str = ALICE) -> tuple[int, bytes]:
    with mx_from(server, source_ip) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(sender, [to], content)
    return refused.value.smtp_code, refused.value.smtp_error


def test_a_passing_message_gets_the_exact_header_above_received(mx: Mx) -> None:
    content = signed(message(f"news@{PASS_DOMAIN}"), PASS_DOMAIN)
    deliver_from(mx.server, LEGIT_IP, f"bounces@{PASS_DOMAIN}", content)
    stored = newest_message(mx.db.settings, ALICE)
    lines = stored.split(b"\r\n")
    assert lines[1] == (
        f"Authentication-Results: {HOSTNAME}; spf=pass smtp.mailfrom={PASS_DOMAIN}; "
        f"dkim=pass header.d={PASS_DOMAIN} header.s=sel; dmarc=pass header.from={PASS_DOMAIN}"
    ).encode()
    assert lines[2].startswith(b"Received: from ")
    assert stored.endswith(content)


def test_unsigned_mail_says_dkim_none_and_several_signatures_get_one_result_each(mx: Mx) -> None:
    deliver_from(mx.server, LEGIT_IP, f"a@{NO_DMARC_DOMAIN}", message(f"a@{NO_DMARC_DOMAIN}"))
    assert results_of(newest_message(mx.db.settings, ALICE)) == [
        f"Authentication-Results: {HOSTNAME}; spf=pass smtp.mailfrom={NO_DMARC_DOMAIN}; dkim=none; "
        f"dmarc=none header.from={NO_DMARC_DOMAIN}".encode()
    ]
    twice = signed(signed(message(f"news@{PASS_DOMAIN}", "twice"), PASS_DOMAIN), REJECT_DOMAIN)
    deliver_from(mx.server, FORGER_IP, f"x@{FORGER_DOMAIN}", twice)
    assert results_of(newest_message(mx.db.settings, ALICE)) == [
        f"Authentication-Results: {HOSTNAME}; spf=none smtp.mailfrom={FORGER_DOMAIN}; "
        f"dkim=pass header.d={REJECT_DOMAIN} header.s=sel; dkim=pass header.d={PASS_DOMAIN} header.s=sel; "
        f"dmarc=pass header.from={PASS_DOMAIN}".encode()
    ]


def test_the_null_sender_is_checked_by_its_helo_name(mx: Mx) -> None:
    deliver_from(mx.server, LEGIT_IP, "", message(f"mailer-daemon@{NO_DMARC_DOMAIN}"))
    (header,) = results_of(newest_message(mx.db.settings, ALICE))
    assert header.startswith(f"Authentication-Results: {HOSTNAME}; spf=pass smtp.helo={HELO}; dkim=none;".encode())
    code, text = refusal(mx.server, FORGER_IP, "", message(f"mailer-daemon@{PASS_DOMAIN}"))
    assert code == 550 and b"DMARC" in text  # the HELO name's SPF does not align with pass.example


def test_forged_from_of_a_reject_domain_is_refused_naming_dmarc(mx: Mx) -> None:
    before = len(maildir_messages(mx.db.settings, ALICE))
    code, text = refusal(mx.server, FORGER_IP, f"x@{FORGER_DOMAIN}", message(f"ceo@{REJECT_DOMAIN}"))
    assert code == 550 and text.startswith(b"5.7.1 ") and b"DMARC" in text
    assert len(maildir_messages(mx.db.settings, ALICE)) == before


def test_a_quarantine_forgery_lands_in_junk_with_its_reasons(mx: Mx) -> None:
    inbox = len(maildir_messages(mx.db.settings, ALICE))
    deliver_from(mx.server, FORGER_IP, f"x@{FORGER_DOMAIN}", message(f"ceo@{QUARANTINE_DOMAIN}", "quarantined"))
    assert len(maildir_messages(mx.db.settings, ALICE)) == inbox
    (junked,) = junk_messages(mx.db.settings.mail_root, ALICE)
    assert b"Subject: quarantined" in junked
    assert junked.split(b"\r\n")[1:3] == [b"X-Spam: Yes", b"X-Spam-Reasons: DMARC quarantine"]
    assert b"; dmarc=fail header.from=quarantine.example" in results_of(junked)[0]


def test_spf_fail_without_dmarc_is_refused_with_5_7_23(mx: Mx) -> None:
    code, text = refusal(mx.server, FORGER_IP, f"a@{NO_DMARC_DOMAIN}", message(f"a@{FORGER_DOMAIN}"))
    assert (code, text[:7]) == (550, b"5.7.23 ")


@pytest.fixture
def server_without_dns(start_smtp: StartSmtp, tmp_path: Path) -> RunningSmtp:
    """An MX whose DNS server has stopped: every lookup times out."""
    with DnsServer(zone(), tmp_path / "dns", zones=EXTRA_ZONES) as dns:
        address = dns.address
    return start_smtp(dns_resolver=(address,))


def test_a_dns_server_that_is_down_gives_temperror_and_the_message_is_accepted(server_without_dns: RunningSmtp) -> None:
    server = server_without_dns
    deliver_from(server, FORGER_IP, f"x@{REJECT_DOMAIN}", message(f"ceo@{REJECT_DOMAIN}"))
    (header,) = results_of(newest_message(server.db.settings, ALICE))
    assert header == (
        f"Authentication-Results: {HOSTNAME}; spf=temperror smtp.mailfrom={REJECT_DOMAIN}; dkim=none; "
        f"dmarc=temperror header.from={REJECT_DOMAIN}"
    ).encode()


def test_a_hosted_sender_that_cannot_be_verified_is_deferred_not_refused(server_without_dns: RunningSmtp) -> None:
    code, text = refusal(server_without_dns, FORGER_IP, ALICE, message(ALICE))
    assert (code, text[:6]) == (451, b"4.4.3 ")


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_forging_our_own_domain_is_refused_and_a_real_sender_is_not(mx: Mx) -> None:
    create_group(mx.db, f"staff@{DOMAIN}", [ALICE, BOB], policy="members", actor=CONSOLE)
    before = len(maildir_messages(mx.db.settings, BOB))

    def swaks(source_ip: str, *extra: str) -> subprocess.CompletedProcess[str]:
        command = ["swaks", "--server", "127.0.0.1", "--port", str(mx.server.mx), "--local-interface", source_ip]
        command += ["--helo", HELO, "--from", ALICE, "--to", f"staff@{DOMAIN}", *extra]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    forged = swaks(FORGER_IP)
    assert forged.returncode != 0 and "<** 550 5.7.1 " in forged.stdout
    assert swaks(LEGIT_IP).returncode == 0  # hosted.example's SPF lists 127.0.0.2
    assert len(maildir_messages(mx.db.settings, BOB)) == before + 1


def test_own_domain_mail_signed_with_our_key_is_delivered_from_anywhere(mx: Mx) -> None:
    content = signed(message(ALICE, "signed by us"), DOMAIN)
    deliver_from(mx.server, FORGER_IP, f"list@{FORGER_DOMAIN}", content)
    assert newest_message(mx.db.settings, ALICE).endswith(content)


def test_forged_from_in_an_alias_domain_is_refused(mx: Mx) -> None:
    code, text = refusal(mx.server, FORGER_IP, f"x@{FORGER_DOMAIN}", message("alice@alias.example"))
    assert (code, text[:6]) == (550, b"5.7.1 ")


def test_a_members_only_group_refuses_a_forged_member(mx: Mx) -> None:
    create_group(mx.db, f"board@{DOMAIN}", [ALICE, BOB], policy="members", actor=CONSOLE)
    code, text = refusal(mx.server, FORGER_IP, BOB, message(BOB), to=f"board@{DOMAIN}")
    assert (code, text[:6]) == (550, b"5.7.1 ")


def test_incoming_results_claiming_our_name_are_removed(mx: Mx) -> None:
    spoofed = (
        f"Authentication-Results: {HOSTNAME.upper()}; dkim=pass header.d={DOMAIN}\r\n"
        "Authentication-Results: elsewhere.example; spf=pass smtp.mailfrom=x.example\r\n"
    ).encode()
    content = message(f"a@{NO_DMARC_DOMAIN}", "spoofed results", spoofed)
    deliver_from(mx.server, LEGIT_IP, f"a@{NO_DMARC_DOMAIN}", content)
    stored = newest_message(mx.db.settings, ALICE)
    assert results_of(stored)[0].startswith(f"Authentication-Results: {HOSTNAME}; spf=pass".encode())
    assert results_of(stored)[1:] == [b"Authentication-Results: elsewhere.example; spf=pass smtp.mailfrom=x.example"]
    assert stored.endswith(content.replace(spoofed.split(b"\r\n")[0] + b"\r\n", b""))


def test_submission_gets_no_results_and_no_checks(mx: Mx) -> None:
    with submit(mx.server, ALICE, ALICE_PW) as client:
        client.sendmail(ALICE, [BOB], message(ALICE, "submitted"))
    stored = newest_message(mx.db.settings, BOB)
    assert b"Subject: submitted" in stored and results_of(stored) == []


def test_domains_with_checks_off_receive_what_enforcing_ones_refuse_or_junk(mx: Mx) -> None:
    lax = "lax@second.example"
    create_mailbox(mx.db, lax, "lax-password-1", actor=CONSOLE)
    with mx.db.session.begin() as s:
        s.execute(update(Domain).where(Domain.name == "second.example").values(inbound_checks=False))
    forged = message(f"ceo@{REJECT_DOMAIN}", "mixed")
    deliver_from(mx.server, FORGER_IP, f"x@{FORGER_DOMAIN}", forged, to=lax)
    assert b"dmarc=fail header.from=reject.example" in results_of(newest_message(mx.db.settings, lax))[0]
    inbox = len(maildir_messages(mx.db.settings, ALICE))
    with mx_from(mx.server, FORGER_IP) as client:
        client.sendmail(f"x@{FORGER_DOMAIN}", [lax, ALICE], forged)
    assert len(maildir_messages(mx.db.settings, ALICE)) == inbox
    (junked,) = junk_messages(mx.db.settings.mail_root, ALICE)
    assert b"X-Spam-Reasons: DMARC reject" in junked
    assert len(maildir_messages(mx.db.settings, lax)) == 2


def test_every_corpus_message_arrives_through_the_mx_byte_identical_below_our_header(mx: Mx) -> None:
    """Our Authentication-Results goes above Received; everything below stays as sent."""
    mismatched, wrongly_refused = [], []
    with mx_from(mx.server, LEGIT_IP) as client:
        client.ehlo()
        for path in sorted(corpus_dir().glob("*.eml")):
            sent = _BARE_LF.sub(b"\r\n", path.read_bytes())
            client.mail(f"a@{NO_DMARC_DOMAIN}")
            client.rcpt(BOB)
            code, text = client.data(sent)
            if path.name in REFUSED:
                expected_code = REFUSED[path.name]
                assert (code, text[:5]) == expected_code, path.name
                continue
            if code != 250:
                wrongly_refused.append((path.name, code, text))
                continue
            return_path, header, rest = newest_message(mx.db.settings, BOB).split(b"\r\n", 2)
            assert header.startswith(f"Authentication-Results: {HOSTNAME}; spf=pass".encode()), path.name
            expected = sent if sent.endswith(b"\r\n") else sent + b"\r\n"
            if stored_body(return_path + b"\r\n" + rest) != expected:
                mismatched.append(path.name)
    assert wrongly_refused == [] and mismatched == []
    expected_count = len(list(corpus_dir().glob("*.eml"))) - len(REFUSED)
    assert message_count(mx.db.settings, BOB) == expected_count


def test_a_members_only_group_takes_an_outside_member_only_when_authenticated(mx: Mx) -> None:
    member = f"news@{PASS_DOMAIN}"
    create_group(mx.db, f"partners@{DOMAIN}", [ALICE, member], policy="members", actor=CONSOLE)
    content = signed(message(member, "from a partner"), PASS_DOMAIN)
    deliver_from(mx.server, LEGIT_IP, member, content, to=f"partners@{DOMAIN}")
    assert newest_message(mx.db.settings, ALICE).endswith(content)
    code, text = refusal(mx.server, FORGER_IP, member, message(member, "forged partner"), to=f"partners@{DOMAIN}")
    assert (code, text[:6]) == (550, b"5.7.1 ") and b"group" in text


def test_the_group_rule_holds_when_the_domain_switched_its_checks_off(mx: Mx) -> None:
    create_group(mx.db, f"council@{DOMAIN}", [ALICE, BOB], policy="members", actor=CONSOLE)
    with mx.db.session.begin() as s:
        s.execute(update(Domain).where(Domain.name == DOMAIN).values(inbound_checks=False))
    code, text = refusal(mx.server, FORGER_IP, BOB, message(BOB, "forged member"), to=f"council@{DOMAIN}")
    assert (code, text[:6]) == (550, b"5.7.1 ") and b"group" in text
    deliver_from(mx.server, FORGER_IP, f"x@{FORGER_DOMAIN}", message(BOB, "checks off"))  # no group: delivered
    assert b"Subject: checks off" in newest_message(mx.db.settings, ALICE)
