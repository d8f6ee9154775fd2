"""The outbound queue end to end, against a second SMTP server on loopback as the smarthost:
delivery with DKIM, temporary failure then retry, permanent failure and expiry then a DSN
in the sender's mailbox, and a shared queue worked by two smtp processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from email import message_from_bytes

import dkim
import pytest
from sqlalchemy import select

from shared.accounts import create_alias
from shared.accounts.views import CONSOLE
from shared.mail import dkimkeys, outbound, srs
from shared.storage.db import Database
from shared.storage.models import OutboundMessage, OutboundRecipient

from .support import (
    ALICE,
    BOB,
    DOMAIN,
    REMOTE,
    RunningSmtp,
    StockSmtp,
    maildir_messages,
    message_count,
    mx_client,
    start_smarthost,
    submit,
    work_queue,
)

pytestmark = pytest.mark.integration
MESSAGE = (
    b"From: Alice <alice@hosted.example>\r\nTo: <someone@remote.example>\r\nSubject: out\r\n\r\nhello out there\r\n"
)


@pytest.fixture
def relaying(start_smtp, smarthost: StockSmtp) -> RunningSmtp:  # type: ignore[no-untyped-def]
    return start_smtp(relay_host=f"127.0.0.1:{smarthost.port}", queue_retry_base=0.05)


def queue_rows(db: Database) -> list[tuple[str, str, int]]:
    with db.session.begin() as s:
        rows = s.execute(select(OutboundRecipient.address, OutboundRecipient.status, OutboundRecipient.attempts))
        return [(address, status.value, attempts) for address, status, attempts in rows]


def test_submitted_mail_goes_out_through_the_smarthost_dkim_signed(relaying: RunningSmtp, smarthost: StockSmtp) -> None:
    with submit(relaying) as client:
        client.sendmail(ALICE, [REMOTE], MESSAGE)
    assert queue_rows(relaying.db) == [(REMOTE, "queued", 0)]
    assert work_queue(relaying.db) == 1
    [(sender, recipients, content)] = smarthost.received
    assert recipients == [REMOTE]
    # the VERP return path of the message's log entry, at the sender's domain (shared.mail.verp)
    assert re.fullmatch(r"verp=[0-9a-f]{20}=[0-9a-f]{16}@hosted\.example", sender), sender
    assert content.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;") and content.endswith(MESSAGE)
    selector, record = dkimkeys.dns_record(relaying.settings, "hosted.example")

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{selector}._domainkey.hosted.example.".encode()
        return record.encode()

    assert dkim.verify(content, dnsfunc=dns)
    assert queue_rows(relaying.db) == []
    assert not any((relaying.settings.mail_root / ".outbound" / "new").iterdir())


def test_temporary_failure_is_retried_later(relaying: RunningSmtp, smarthost: StockSmtp) -> None:
    smarthost.handler.rcpt_replies[REMOTE] = ["451 4.3.0 try again later", "250 OK"]
    with submit(relaying) as client:
        client.sendmail(ALICE, [REMOTE], MESSAGE)
    work_queue(relaying.db)
    assert queue_rows(relaying.db) == [(REMOTE, "queued", 1)] and smarthost.received == []
    time.sleep(0.1)  # queue_retry_base: the first retry is due after 0.05 s
    smarthost.handler.rcpt_replies.pop(REMOTE)
    work_queue(relaying.db)
    assert len(smarthost.received) == 1 and queue_rows(relaying.db) == []


def dsn_of(mailbox: list[bytes]) -> bytes:
    [bounce] = [m for m in mailbox if b"report-type=delivery-status" in m]
    return bounce


def test_permanent_failure_bounces_to_the_sender(relaying: RunningSmtp, smarthost: StockSmtp) -> None:
    smarthost.handler.rcpt_replies["gone@remote.example"] = ["550 5.1.1 no such user"]
    with submit(relaying) as client:
        client.sendmail(ALICE, [REMOTE, "gone@remote.example"], MESSAGE)
    work_queue(relaying.db)
    assert smarthost.received[0][1] == [REMOTE]
    bounce = dsn_of(maildir_messages(relaying.settings, ALICE))
    assert bounce.startswith(b"Return-Path: <>\r\n")
    parsed = message_from_bytes(bounce.split(b"\r\n", 1)[1])
    assert parsed.get_content_type() == "multipart/report" and parsed["To"] == "<alice@hosted.example>"
    report = bounce.decode()
    assert "Final-Recipient: rfc822; gone@remote.example\r\nAction: failed\r\nStatus: 5.1.1\r\n" in report
    assert "Diagnostic-Code: smtp; 550 5.1.1 no such user" in report
    assert "Subject: out" in report  # the original headers come back
    assert queue_rows(relaying.db) == []


def test_expired_messages_bounce_with_the_last_error(start_smtp, smarthost: StockSmtp) -> None:  # type: ignore[no-untyped-def]
    server = start_smtp(relay_host=f"127.0.0.1:{smarthost.port}", queue_retry_base=0.05, queue_lifetime=1.0)
    dkimkeys.ensure_domain_key(server.settings, "hosted.example")  # made beforehand: it takes a while
    smarthost.handler.rcpt_replies[REMOTE] = ["452 4.2.2 mailbox busy"]
    with submit(server) as client:
        client.sendmail(ALICE, [REMOTE], MESSAGE)
    work_queue(server.db)
    assert queue_rows(server.db) == [(REMOTE, "queued", 1)]
    time.sleep(1.0)
    work_queue(server.db)
    report = dsn_of(maildir_messages(server.settings, ALICE)).decode()
    assert "Status: 4.4.7" in report and "452 4.2.2 mailbox busy" in report
    assert queue_rows(server.db) == []


def test_an_unreachable_next_hop_is_a_temporary_failure(start_smtp) -> None:  # type: ignore[no-untyped-def]
    server = start_smtp(relay_host="127.0.0.1:1", queue_retry_base=60)
    with submit(server) as client:
        client.sendmail(ALICE, [REMOTE], MESSAGE)
    work_queue(server.db)
    assert queue_rows(server.db) == [(REMOTE, "queued", 1)]
    assert not any(b"delivery-status" in m for m in maildir_messages(server.settings, ALICE))


def test_external_alias_members_are_forwarded_and_the_null_sender_never_bounced(
    relaying: RunningSmtp, smarthost: StockSmtp
) -> None:
    create_alias(relaying.db, "fwd@hosted.example", ["outside@remote.example", BOB], actor=CONSOLE)
    smarthost.handler.rcpt_replies["outside@remote.example"] = ["550 5.1.1 gone", "550 5.1.1 gone"]
    with mx_client(relaying) as client:
        client.sendmail("", ["fwd@hosted.example"], b"Subject: from nobody\r\n\r\nx\r\n")
        client.sendmail("origin@remote.example", ["fwd@hosted.example"], b"Subject: from someone\r\n\r\nx\r\n")
    assert message_count(relaying.settings, BOB) == 2
    with relaying.db.session.begin() as s:
        null, rewritten = sorted(s.scalars(select(OutboundMessage.sender)))
    assert null == "" and srs.original_address(relaying.settings, rewritten, DOMAIN) == "origin@remote.example"
    work_queue(relaying.db)
    # Only the real sender is bounced, through the SRS address the forward left with.
    assert queue_rows(relaying.db) == [("origin@remote.example", "queued", 0)]


def test_smarthost_credentials_are_sent_only_under_tls(start_smtp, smarthost: StockSmtp) -> None:  # type: ignore[no-untyped-def]
    server = start_smtp(
        relay_host=f"127.0.0.1:{smarthost.port}",
        relay_user="beacon",
        relay_password="relay-secret",
        queue_retry_base=60,
    )
    with submit(server) as client:
        client.sendmail(ALICE, [REMOTE], MESSAGE)
    work_queue(server.db)
    assert smarthost.handler.logins == [b"beacon"] and len(smarthost.received) == 1


@pytest.mark.postgres
def test_two_smtp_processes_share_the_queue_and_send_nothing_twice(tmp_path, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    from conftest import base_settings

    from shared.storage.migrations import upgrade_to_head

    settings = base_settings(tmp_path, database_url=postgres_url)
    upgrade_to_head(settings)
    db = Database(settings)
    smarthost = start_smarthost(settings)
    total = 30  # more than one claim batch, so both replicas take part
    for n in range(total):
        outbound.enqueue(
            db, f"Subject: message {n}\r\n\r\nbody\r\n".encode(), sender=REMOTE, recipients=[f"r{n}@remote.example"]
        )
    environment = os.environ | {
        "BEACONMAIL_DATA_DIR": str(settings.data_dir),
        "BEACONMAIL_DATABASE_URL": postgres_url,
        "BEACONMAIL_SECRET_KEY": "test-secret-key",
        "BEACONMAIL_RELAY_HOST": f"127.0.0.1:{smarthost.port}",
        **{f"BEACONMAIL_{name}_PORT": "0" for name in ("SMTP", "SUBMISSION", "SUBMISSIONS")},
    }
    code = (
        "from shared.config import load_settings; from services.smtp.server import run_smtp; run_smtp(load_settings())"
    )
    replicas = [subprocess.Popen([sys.executable, "-c", code], env=environment) for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while len(smarthost.received) < total and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # a duplicate would arrive now
    finally:
        for replica in replicas:
            replica.send_signal(signal.SIGTERM)
        exit_codes = [replica.wait(timeout=30) for replica in replicas]
        smarthost.stop()
        db.dispose()
    subjects = [content.split(b"\r\n", 1)[0] for _sender, _rcpts, content in smarthost.received]
    assert len(subjects) == total and len(set(subjects)) == total
    assert exit_codes == [0, 0]
