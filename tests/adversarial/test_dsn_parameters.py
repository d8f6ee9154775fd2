"""Hostile DSN parameters on submission: ENVID and ORCPT come back in the header fields of a
delivery report (Original-Envelope-Id, Original-Recipient), so an xtext that decodes to CR, LF,
a control or a non-ASCII character, or a value over its RFC 3461 length, is refused with
501 5.5.4 and never reaches a report; the report builder itself writes no line break of theirs."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from email import message_from_bytes
from email.message import Message

import pytest
from integration.pop3.support import ALICE, ALICE_PW, BOB
from integration.smtp.support import RawSmtp, RunningSmtp, client_context, maildir_messages

from shared.mail.dsn import Action, ReportedRecipient, build_dsn
from shared.mail.dsn_requests import MessageRequest

from .conftest import StartSmtp

HOSTILE_ENVIDS = [
    b"a+0D+0AX-Injected:+20envid",
    b"a+0AX-Injected:+20envid",
    b"a+0D",
    b"a+00b",
    b"a+7F",
    b"a+C3+A9",
    b"x" * 101,
    "\u00e9t\u00e9".encode(),
    b"a=b",
    b"a+0d+0aX-Injected:+20envid",
]
HOSTILE_ORCPTS = [
    b"rfc822;a+0D+0AX-Injected:+20orcpt@x",
    b"rfc822;a+0AX-Injected:+20orcpt@x",
    b"rfc822;a+09@x",
    b"rfc822;a+E2+80+A8@x",
    b"rfc822;" + b"a" * 494,
    "rfc822;\u00e9@x".encode(),
    b"rfc822+0D+0AX-Injected:;a@x",
    b"a@x",
]


@pytest.fixture
def submission(start_smtp: StartSmtp) -> RunningSmtp:
    return start_smtp()


def signed_in(server: RunningSmtp) -> RawSmtp:
    client = RawSmtp(server.submission)
    client.command(b"EHLO attacker.example")
    client.starttls(client_context(server.settings))
    assert client.command(b"EHLO attacker.example").endswith(b"250 DSN\r\n")
    assert client.command(b"AUTH PLAIN " + base64.b64encode(f"\0{ALICE}\0{ALICE_PW}".encode())).startswith(b"235 ")
    return client


def all_header_names(message: Message) -> set[str]:
    names = {name.lower() for name in message}
    for part in message.walk():
        names |= {name.lower() for name in part}
        if part.get_content_type() == "message/delivery-status":
            for block in part.get_payload():
                names |= {name.lower() for name in block}
    return names


def test_hostile_envid_and_orcpt_are_refused_and_never_reach_a_report(submission: RunningSmtp) -> None:
    client = signed_in(submission)
    for envid in HOSTILE_ENVIDS:
        assert client.command(b"MAIL FROM:<" + ALICE.encode() + b"> ENVID=" + envid).startswith(b"501 5.5.4"), envid
    assert client.command(b"MAIL FROM:<" + ALICE.encode() + b"> RET=HDRS ENVID=fine").startswith(b"250 ")
    for orcpt in HOSTILE_ORCPTS:
        command = b"RCPT TO:<" + BOB.encode() + b"> NOTIFY=SUCCESS ORCPT=" + orcpt
        assert client.command(command).startswith(b"501 5.5.4"), orcpt
    # A raw CR inside a parameter ends nothing: the line is refused whole.
    assert client.command(b"RCPT TO:<" + BOB.encode() + b"> NOTIFY=SUCCESS ORCPT=rfc822;a\rX-Injected: 1").startswith(b"500")
    assert client.command(b"RCPT TO:<" + BOB.encode() + b"> NOTIFY=SUCCESS ORCPT=rfc822;bob+20x@y").startswith(b"250 ")
    assert client.command(b"DATA").startswith(b"354")
    assert client.command(b"Subject: probe\r\n\r\nbody\r\n.").startswith(b"250 ")
    client.close()
    [report] = [message_from_bytes(m) for m in maildir_messages(submission.settings, ALICE) if b"delivery-status" in m]
    assert "x-injected" not in all_header_names(report)
    fields = report.get_payload()[1].get_payload()
    assert fields[0]["Original-Envelope-Id"] == "fine" and fields[1]["Original-Recipient"] == "rfc822;bob x@y"


def test_the_report_builder_writes_no_line_break_of_a_value_it_is_given() -> None:
    """Values decoded elsewhere (a future path past the parser) still cannot add a line."""
    now = datetime(2026, 12, 6, tzinfo=timezone.utc)
    report = build_dsn(
        reporting_host="mx.hosted.example",
        sender=ALICE,
        recipients=[ReportedRecipient(BOB, "250 ok\r\nX-Injected: reply", original_recipient="rfc822;a\r\nX-Injected: o")],
        original=b"Subject: x\r\n\r\nbody\r\n",
        arrival=now,
        now=now,
        action=Action.DELIVERED,
        request=MessageRequest(envid="e\nX-Injected: envid\r\n\r\nX-Injected: body"),
    )
    assert "x-injected" not in all_header_names(message_from_bytes(report))
    assert b"\nX-Injected" not in report
