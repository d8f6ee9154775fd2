"""What a 250 to DATA means: every local copy stored and counted, every remote copy queued,
or else 451 and nothing at all; trace headers; send-as, group policy and rate rules."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
from sqlalchemy import select

from shared.accounts import create_alias, create_group, create_mailbox, get_mailbox
from shared.accounts.views import CONSOLE
from shared.storage.db import Database
from shared.storage.models import OutboundRecipient

from .support import (
    ALICE,
    BOB,
    DOMAIN,
    REMOTE,
    RawSmtp,
    RunningSmtp,
    client_context,
    maildir_messages,
    message_count,
    mx_client,
    newest_message,
    submit,
)

pytestmark = pytest.mark.integration
MESSAGE = b"Subject: test\r\nFrom: <alice@hosted.example>\r\n\r\nhello\r\n"


def queued_addresses(db: Database, *addresses: str) -> list[str]:
    with db.session.begin() as s:
        return sorted(s.scalars(select(OutboundRecipient.address).where(OutboundRecipient.address.in_(addresses))))


def test_submission_trace_headers_name_tls_and_the_authenticated_user(shared_smtp: RunningSmtp) -> None:
    smtp = shared_smtp
    with submit(smtp) as client:
        client.sendmail(
            ALICE, [BOB], b"Received: from old.example by older.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n" + MESSAGE
        )
    stored = newest_message(smtp.settings, BOB)
    head = stored.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert head[0] == b"Return-Path: <alice@hosted.example>"
    assert head[1] == b"Received: from [127.0.0.1] ([127.0.0.1])"
    assert head[2].startswith(b"\t(using TLSv1.3 with cipher ")
    assert head[3] == b"\t(authenticated sender: alice@hosted.example)"
    assert head[4].startswith(b"\tby mx.hosted.example (Beacon Mail) with ESMTPSA id ")
    assert head[6].startswith(b"Date: ") and head[7].startswith(b"Message-ID: <")  # submission completes it
    assert head[8] == b"Received: from old.example by older.example; Mon, 1 Jan 2024 00:00:00 +0000"
    assert stored.endswith(MESSAGE)


def test_mx_trace_and_null_return_path(shared_smtp: RunningSmtp) -> None:
    smtp = shared_smtp
    with mx_client(smtp) as client:
        client.sendmail("", [ALICE], MESSAGE.replace(b"alice@hosted.example", REMOTE.encode()))
    stored = newest_message(smtp.settings, ALICE)
    assert stored.startswith(b"Return-Path: <>\r\nAuthentication-Results: mx.hosted.example; spf=")
    received = stored.split(b"\r\n", 2)[2]
    assert received.startswith(b"Received: from [127.0.0.1] ([127.0.0.1])\r\n\tby mx.hosted.example")
    assert b" with ESMTP id " in stored


def test_submitters_send_only_as_their_own_addresses(shared_smtp: RunningSmtp) -> None:
    smtp = shared_smtp
    create_alias(smtp.db, "sales@hosted.example", [ALICE], actor=CONSOLE)
    create_group(smtp.db, "sendas-team@hosted.example", [ALICE, BOB], policy="members", actor=CONSOLE)
    create_group(smtp.db, "sendas-board@hosted.example", [BOB], policy="members", actor=CONSOLE)
    with submit(smtp) as client:
        for sender in (
            ALICE,
            "ALICE@hosted.example",
            "alice@alias.example",
            "sales@hosted.example",
            "sendas-team@hosted.example",
        ):
            assert client.mail(sender)[0] == 250, sender
            client.rset()
        for sender in (BOB, REMOTE, "sendas-board@hosted.example", ""):
            code, text = client.mail(sender)
            assert (code, text[:5]) == (553, b"5.7.1"), sender
        assert client.mail(ALICE, ["AUTH=<>"])[0] == 250
        client.rset()


def test_unauthenticated_submission_is_refused(shared_smtp: RunningSmtp) -> None:
    smtp = shared_smtp
    with smtplib.SMTP("127.0.0.1", smtp.submission, timeout=10) as client:
        client.starttls(context=client_context(smtp.settings))
        client.ehlo("client.example")
        assert client.mail(ALICE) == (530, b"5.7.0 Authentication required")


def test_authenticated_users_may_relay_and_the_copy_is_queued(shared_smtp: RunningSmtp) -> None:
    smtp = shared_smtp
    bob_before = message_count(smtp.settings, BOB)
    with submit(smtp) as client:
        assert client.sendmail(ALICE, [BOB, "relayed@remote.example", "Other@Remote.Example"], MESSAGE) == {}
    assert queued_addresses(smtp.db, "relayed@remote.example", "Other@remote.example") == [
        "Other@remote.example",
        "relayed@remote.example",
    ]
    assert message_count(smtp.settings, BOB) == bob_before + 1


def test_submission_rate_limit_is_per_user_per_hour(start_smtp) -> None:  # type: ignore[no-untyped-def]
    server = start_smtp(submission_rate_per_hour=2)
    with submit(server) as client:
        client.sendmail(ALICE, [BOB], MESSAGE)
        client.sendmail(ALICE, [BOB], MESSAGE)
        assert client.mail(ALICE) == (451, b"4.7.1 Submission rate limit exceeded, try again later")
    with submit(server, BOB, "bob-pw") as other:
        assert other.sendmail(BOB, [ALICE], MESSAGE) == {}
    assert message_count(server.settings, BOB) == 2


def test_group_sending_policy_applies_to_inbound_mail(shared_smtp: RunningSmtp) -> None:
    smtp = shared_smtp
    create_group(smtp.db, "inbound-team@hosted.example", [ALICE, BOB], policy="members", actor=CONSOLE)
    create_group(smtp.db, "inbound-staff@hosted.example", [ALICE, BOB], policy="domain", actor=CONSOLE)
    with mx_client(smtp) as client:
        client.ehlo("client.example")
        client.mail(REMOTE)
        assert client.rcpt("inbound-team@hosted.example") == (550, b"5.7.1 Sender may not write to this group")
        assert client.rcpt("inbound-staff@hosted.example")[0] == 550
        client.rset()
        client.mail(BOB)
        assert client.rcpt("inbound-team@hosted.example")[0] == 250
        assert client.rcpt("inbound-staff@hosted.example")[0] == 250


def test_postmaster_reaches_managers_or_global_admins_unless_an_alias_says_otherwise(smtp: RunningSmtp) -> None:
    with mx_client(smtp) as client:
        client.sendmail(REMOTE, ["postmaster@hosted.example"], b"Subject: to hosted\r\n\r\nx\r\n")
        client.sendmail(REMOTE, ["postmaster@second.example"], b"Subject: to second\r\n\r\nx\r\n")
    assert newest_message(smtp.settings, ALICE).endswith(b"Subject: to hosted\r\n\r\nx\r\n")  # manager
    assert newest_message(smtp.settings, BOB).endswith(b"Subject: to second\r\n\r\nx\r\n")  # global admin
    create_alias(smtp.db, "postmaster@hosted.example", [BOB], actor=CONSOLE)
    with mx_client(smtp) as client:
        client.sendmail(REMOTE, ["postmaster@hosted.example"], b"Subject: aliased\r\n\r\nx\r\n")
    assert newest_message(smtp.settings, BOB).endswith(b"Subject: aliased\r\n\r\nx\r\n")


def test_a_full_mailbox_gets_one_reply_at_rcpt_and_at_data_and_partial_fullness_bounces(
    shared_smtp: RunningSmtp,
) -> None:
    """Declared with SIZE, a message too big for the mailbox is refused at RCPT; without SIZE the
    quota is only known at end of data. Both answer the same transient 452 4.2.2 (RFC 3463 X.2.2)
    and keep nothing. Beside another recipient, the others get the message and the sender a DSN."""
    smtp = shared_smtp
    create_mailbox(smtp.db, f"small@{DOMAIN}", "small-pw", quota_bytes=3000, actor=CONSOLE)
    big = b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 60
    with mx_client(smtp) as client:
        client.ehlo("client.example")
        client.mail(REMOTE, [f"SIZE={len(big)}"])
        at_rcpt = client.rcpt(f"small@{DOMAIN}")
        client.rset()
        client.mail(REMOTE)
        assert client.rcpt(f"small@{DOMAIN}")[0] == 250
        at_data = client.data(big)
    assert at_rcpt == at_data == (452, b"4.2.2 Mailbox full")
    assert get_mailbox(smtp.db, f"small@{DOMAIN}", actor=CONSOLE).messages == 0
    with submit(smtp, BOB, "bob-pw") as client:
        client.mail(BOB)
        client.rcpt(ALICE)
        client.rcpt(f"small@{DOMAIN}")
        assert client.data(big)[0] == 250
    assert newest_message(smtp.settings, ALICE).endswith(big)
    bounce = newest_message(smtp.settings, BOB)
    assert b"Return-Path: <>" in bounce and b"report-type=delivery-status" in bounce
    assert b"Final-Recipient: rfc822; small@hosted.example\r\nAction: failed\r\nStatus: 5.2.2" in bounce


def queue_files(smtp: RunningSmtp) -> list[Path]:
    """The outbound queue's files; its folder appears with the first queued message, which
    another test on the shared server may or may not have sent already."""
    folder = smtp.settings.mail_root / ".outbound" / "new"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_failed_local_copy_means_451_and_nothing_kept(shared_smtp: RunningSmtp) -> None:
    smtp = shared_smtp
    create_mailbox(smtp.db, f"fragile@{DOMAIN}", "fragile-pw", actor=CONSOLE)
    fragile_tmp = smtp.settings.mail_root / DOMAIN / "fragile" / "tmp"
    fragile_tmp.rmdir()
    fragile_tmp.write_text("not a directory: writing the copy for fragile fails")
    alice_before = maildir_messages(smtp.settings, ALICE)
    queue_files_before = queue_files(smtp)
    with submit(smtp) as client:
        with pytest.raises(smtplib.SMTPDataError) as failed:
            client.sendmail(ALICE, [ALICE, f"fragile@{DOMAIN}", "never-queued@remote.example"], MESSAGE)
    assert (failed.value.smtp_code, failed.value.smtp_error[:5]) == (451, b"4.3.0")
    assert maildir_messages(smtp.settings, ALICE) == alice_before
    assert get_mailbox(smtp.db, ALICE, actor=CONSOLE).used_bytes == sum(len(m) for m in alice_before)
    assert queued_addresses(smtp.db, "never-queued@remote.example") == []
    assert queue_files(smtp) == queue_files_before


def test_an_unreachable_database_gives_451_without_details(tmp_path, password_hashes) -> None:  # type: ignore[no-untyped-def]
    from conftest import base_settings

    settings = base_settings(
        tmp_path, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none", hostname="mx.hosted.example"
    )
    server = RunningSmtp(Database(settings))
    try:
        client = RawSmtp(server.mx)
        assert client.command(b"EHLO client.example").startswith(b"250")
        assert client.command(b"MAIL FROM:<someone@remote.example>").startswith(b"250")
        assert (
            client.command(b"RCPT TO:<alice@hosted.example>")
            == b"451 4.3.0 Local error in processing, try again later\r\n"
        )
        assert client.command(b"NOOP").startswith(b"250 2.0.0")
        client.close()
    finally:
        server.stop()
        server.db.dispose()


def test_submission_adds_a_missing_date_and_message_id_and_the_mx_never_does(shared_smtp: RunningSmtp) -> None:
    smtp = shared_smtp
    bare = b"Subject: incomplete\r\nFrom: <alice@hosted.example>\r\n\r\nno date, no id\r\n"
    complete = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <kept@client.example>\r\n" + bare
    with submit(smtp) as client:
        client.sendmail(ALICE, [BOB], bare)
        submitted_bare = newest_message(smtp.settings, BOB)
        client.sendmail(ALICE, [BOB], complete)
        submitted_complete = newest_message(smtp.settings, BOB)
    from_outside = bare.replace(ALICE.encode(), REMOTE.encode())  # on the MX our own domain must authenticate
    with mx_client(smtp) as client:
        client.sendmail(REMOTE, [BOB], from_outside)
        received_bare = newest_message(smtp.settings, BOB)

    added = submitted_bare[: -len(bare)].split(b"\r\n")
    assert added[-3].startswith(b"Date: ") and added[-2].startswith(b"Message-ID: <")
    assert added[-2].endswith(b"@mx.hosted.example>") and added[-1] == b""
    assert submitted_complete.endswith(complete) and submitted_complete.count(b"Message-ID:") == 1
    assert received_bare.endswith(from_outside)
    assert b"\r\nDate: " not in received_bare and b"Message-ID:" not in received_bare
