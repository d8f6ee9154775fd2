"""Bounces and the suppression list through the SMTP service, against a real smarthost on
loopback: a 550 at RCPT suppresses the recipient for the sending domain, the sender gets a DSN
and the log says `bounced`; a later submission to it bounces with a DSN saying it is suppressed,
without reaching the smarthost. A remote DSN that arrives later at the VERP return path (sent
with smtplib to the MX) makes the recipient `bounced` with the remote diagnostic, lands in the
sender's mailbox and reaches a signed `message.bounced` webhook; a DSN to a forwarded copy's
SRS address is correlated by the Message-ID it returns. Both databases."""

from __future__ import annotations

import re
import time

import pytest

from shared.accounts import create_alias, suppressions, webhooks
from shared.accounts.message_tracking import get_message
from shared.accounts.views import CONSOLE
from shared.mail import verp
from tests.webhook_receiver import webhook_receiver

from .support import ALICE, DOMAIN, REMOTE, RunningSmtp, StockSmtp, mx_client, newest_message, submit, work_queue
from .test_message_log import send

pytestmark = pytest.mark.integration
GONE = "gone@remote.example"
HOSTNAME = "mx.hosted.example"


def message(message_id: str) -> bytes:
    return f"From: <{ALICE}>\r\nSubject: hello\r\nMessage-ID: <{message_id}>\r\n\r\nhello\r\n".encode()


def remote_dsn(recipient: str, diagnostic: str, message_id: str, *, to: str = ALICE) -> bytes:
    """A delivery report as a remote MTA writes one (the shape of tests/corpus/030): a text
    part, the message/delivery-status part, the original's header fields."""
    boundary = "report-boundary-1"
    status = diagnostic.split()[1]
    return (
        f"From: Mail Delivery Subsystem <postmaster@mx.remote.example>\r\nTo: <{to}>\r\n"
        "Subject: Delivery Status Notification (Failure)\r\nMessage-ID: <dsn-1@mx.remote.example>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"Your message could not be delivered to {recipient}.\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.remote.example\r\nArrival-Date: Sun, 6 Dec 2026 20:00:00 +0000\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: <{ALICE}>\r\nSubject: hello\r\nMessage-ID: <{message_id}>\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def statuses(server: RunningSmtp, log_id: str) -> dict[str, tuple[str, str]]:
    return {r.address: (r.status, r.reply) for r in get_message(server.db, log_id, actor=CONSOLE).recipients}


def suppressed(server: RunningSmtp) -> list[tuple[str, str, str]]:
    page = suppressions.list_suppressions(server.db, actor=CONSOLE)
    return [(entry.domain, entry.address, entry.reason) for entry in page.items]


@pytest.fixture
def relaying(start_smtp, smarthost: StockSmtp) -> RunningSmtp:  # type: ignore[no-untyped-def]
    return start_smtp(relay_host=f"127.0.0.1:{smarthost.port}", queue_retry_base=60, webhook_allow_private=True)


def test_a_hard_bounce_suppresses_and_a_later_submission_bounces_without_reaching_the_smarthost(
    relaying: RunningSmtp, smarthost: StockSmtp
) -> None:
    smarthost.handler.rcpt_replies[GONE] = ["550 5.1.1 no such user"]
    with submit(relaying) as client:
        first = send(client, ALICE, [GONE], message("first@hosted.example"))
    assert work_queue(relaying.db) == 1
    assert statuses(relaying, first)[GONE] == ("bounced", "550 5.1.1 no such user")
    assert b"550 5.1.1 no such user" in newest_message(relaying.settings, ALICE)
    assert suppressed(relaying) == [(DOMAIN, GONE, "550 5.1.1 no such user")]

    del smarthost.handler.rcpt_replies[GONE]  # the smarthost would take it now
    with submit(relaying) as client:
        second = send(client, ALICE, [GONE], message("second@hosted.example"))
    assert work_queue(relaying.db) == 1
    assert smarthost.received == []
    status, reply = statuses(relaying, second)[GONE]
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert status == "bounced" and reply == f"550 5.7.1 <{GONE}>: suppressed after a hard bounce on {day}"
    dsn = newest_message(relaying.settings, ALICE)
    assert b"second@hosted.example" in dsn and b"suppressed after a hard bounce" in dsn
    assert suppressed(relaying) == [(DOMAIN, GONE, "550 5.1.1 no such user")]  # our own refusal renews nothing


def test_a_later_bounce_to_the_verp_address_is_logged_delivered_and_told_to_webhooks(
    relaying: RunningSmtp, smarthost: StockSmtp
) -> None:
    with webhook_receiver() as receiver:
        issued = webhooks.create_webhook(relaying.db, DOMAIN, receiver.url, ["message.bounced"], actor=CONSOLE)
        receiver.secret = issued.secret
        with submit(relaying) as client:
            log_id = send(client, ALICE, [REMOTE], message("later@hosted.example"))
        assert work_queue(relaying.db) == 1
        [(return_path, _recipients, _content)] = smarthost.received
        assert verp.log_id_of(relaying.settings, return_path) == log_id
        assert statuses(relaying, log_id)[REMOTE][0] == "relayed"

        diagnostic = f"550 5.1.1 <{REMOTE}>: mailbox unavailable"
        with mx_client(relaying) as client:
            client.ehlo("mx.remote.example")
            client.mail("<>")
            assert client.rcpt(return_path)[0] == 250
            code, reply = client.data(remote_dsn(REMOTE, diagnostic, "later@hosted.example"))
        assert code == 250, reply
        assert statuses(relaying, log_id)[REMOTE] == ("bounced", diagnostic)
        timeline = [e for e in get_message(relaying.db, log_id, actor=CONSOLE).events if e.address == REMOTE]
        assert [e.status for e in timeline] == ["queued", "relayed", "bounced"] and timeline[-1].relay == "mx.remote.example"
        stored = newest_message(relaying.settings, ALICE)
        assert b"Return-Path: <>" in stored and diagnostic.encode() in stored
        assert suppressed(relaying) == [(DOMAIN, REMOTE, diagnostic)]
        work_queue(relaying.db)  # the worker's turn for webhooks
        [event] = receiver.received
    assert event.verified and event.event["type"] == "message.bounced"
    assert event.event["data"] | {"reply": diagnostic} == {
        "id": log_id, "from": ALICE, "recipient": REMOTE, "status": "bounced", "attempts": 1,
        "relay": "mx.remote.example", "reply": diagnostic,
    }


def test_a_bounce_of_a_forwarded_copy_is_correlated_by_its_message_id(relaying: RunningSmtp, smarthost: StockSmtp) -> None:
    outside, origin = "outside@remote.example", "origin@example.org"
    create_alias(relaying.db, f"team@{DOMAIN}", [outside], actor=CONSOLE)
    forwarded = b"From: <origin@example.org>\r\nSubject: fwd\r\nMessage-ID: <fwd-1@example.org>\r\n\r\nhi\r\n"
    with mx_client(relaying) as client:
        log_id = send(client, origin, [f"team@{DOMAIN}"], forwarded)
    assert work_queue(relaying.db) == 1
    [(srs_sender, _recipients, _content)] = smarthost.received
    assert srs_sender.startswith("SRS0=")
    diagnostic = f"550 5.2.1 <{outside}>: account disabled"
    with mx_client(relaying) as client:
        assert client.sendmail("<>", [srs_sender], remote_dsn(outside, diagnostic, "fwd-1@example.org", to=srs_sender)) == {}
    assert statuses(relaying, log_id)[outside] == ("bounced", diagnostic)
    assert suppressed(relaying) == []  # the sender is not a hosted domain's
    assert work_queue(relaying.db) == 1  # passed on to the original sender, as before
    assert smarthost.received[1][:2] == ("<>", [origin])


def test_a_report_that_names_other_recipients_changes_nothing(relaying: RunningSmtp, smarthost: StockSmtp) -> None:
    with submit(relaying) as client:
        log_id = send(client, ALICE, [REMOTE], message("other@hosted.example"))
    work_queue(relaying.db)
    [(return_path, _recipients, _content)] = smarthost.received
    with mx_client(relaying) as client:
        stranger = remote_dsn("stranger@remote.example", "550 5.1.1 unknown", "other@hosted.example")
        assert client.sendmail("<>", [return_path], stranger) == {}
        assert client.sendmail("<>", [return_path], b"Subject: Out of office\r\n\r\nback monday\r\n") == {}
    assert statuses(relaying, log_id)[REMOTE][0] == "relayed"
    assert re.search(rb"back monday", newest_message(relaying.settings, ALICE))  # an auto-reply still reaches alice
    assert suppressed(relaying) == []
