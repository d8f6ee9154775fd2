"""DSN on submission (RFC 3461, RFC 3464): offered and read on the submission ports only, the
reports asked for (delivered, relayed, failed, delayed) in the sender's mailbox, and the
parameters passed on to a next hop that offers DSN."""

from __future__ import annotations

import base64
import re
import shutil
import smtplib
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message

import pytest
from sqlalchemy import select

from shared.accounts import create_mailbox
from shared.accounts.message_tracking import get_message
from shared.accounts.views import CONSOLE
from shared.mail.dsn_requests import DELAY_NOTICE_AFTER
from shared.storage.db import Database
from shared.storage.models import LoggedRecipient, OutboundMessage, OutboundRecipient

from .support import (
    ALICE,
    ALICE_PW,
    BOB,
    DOMAIN,
    REMOTE,
    RawSmtp,
    RunningSmtp,
    StockSmtp,
    client_context,
    maildir_messages,
    start_smarthost,
    submit,
    work_queue,
)

pytestmark = pytest.mark.integration
MESSAGE = b"From: <alice@hosted.example>\r\nTo: <someone@remote.example>\r\nSubject: dsn test\r\n\r\nthe body\r\n"
PLAIN = base64.b64encode(f"\0{ALICE}\0{ALICE_PW}".encode())


def submission(server: RunningSmtp) -> RawSmtp:
    client = RawSmtp(server.submission)
    client.command(b"EHLO client.example")
    client.starttls(client_context(server.settings))
    client.command(b"EHLO client.example")
    assert client.command(b"AUTH PLAIN " + PLAIN).startswith(b"235 ")
    return client


def reports(server: RunningSmtp, before: int = 0) -> list[Message]:
    """The delivery reports in alice's mailbox after the first `before` messages."""
    stored = maildir_messages(server.settings, ALICE)[before:]
    return [message_from_bytes(m) for m in stored if b"report-type=delivery-status" in m]


def per_recipient(report: Message) -> Message:
    _human, status, _returned = report.get_payload()
    return status.get_payload()[1]  # type: ignore[no-any-return]


def send(server: RunningSmtp, recipient: str, *, mail: list[str], rcpt: list[str]) -> None:
    with submit(server) as client:
        client.sendmail(ALICE, [recipient], MESSAGE, mail_options=mail, rcpt_options=rcpt)


def test_dsn_is_offered_on_submission_only_and_the_mx_still_answers_555(shared_smtp: RunningSmtp) -> None:
    client = submission(shared_smtp)
    assert client.command(b"EHLO client.example").splitlines()[-1] == b"250 DSN"
    mx = RawSmtp(shared_smtp.mx)
    assert b"DSN" not in mx.command(b"EHLO client.example")
    assert mx.command(b"MAIL FROM:<someone@remote.example> RET=HDRS").startswith(b"555 5.5.4")
    assert mx.command(b"MAIL FROM:<someone@remote.example>").startswith(b"250 ")
    assert mx.command(b"RCPT TO:<alice@hosted.example> NOTIFY=SUCCESS").startswith(b"555 5.5.4")
    mx.close()
    client.close()


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
@pytest.mark.parametrize(("port", "tls"), [("submission", "--tls"), ("submissions", "--tlsc")])
def test_swaks_sees_dsn_in_the_ehlo_of_both_submission_ports_and_its_250_names_the_log_id(
    shared_smtp: RunningSmtp, port: str, tls: str
) -> None:
    result = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(getattr(shared_smtp, port)), tls,
         "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", ALICE_PW,
         "--from", ALICE, "--to", BOB, "--header", f"Subject: swaks on {port}"],
        capture_output=True, timeout=30,
    )  # fmt: skip
    transcript = result.stdout.decode()
    assert result.returncode == 0, transcript[-500:]
    assert "<~  250-DSN" in transcript or "<~  250 DSN" in transcript
    [log_id] = re.findall(r"<~  250 2\.0\.0 Ok: queued as ([0-9a-f]{20})\r?$", transcript, re.MULTILINE)
    view = get_message(shared_smtp.db, log_id, actor=CONSOLE)
    assert (view.via, view.user, [(r.address, r.status) for r in view.recipients]) == ("submission", ALICE, [(BOB, "delivered")])


def test_bad_or_repeated_parameters_get_501_and_the_session_goes_on(shared_smtp: RunningSmtp) -> None:
    client = submission(shared_smtp)
    for bad in (b"RET=BODY", b"RET=FULL RET=HDRS", b"ENVID=" + b"x" * 101, b"ENVID=a+0D+0Ab"):
        assert client.command(b"MAIL FROM:<alice@hosted.example> " + bad).startswith(b"501 5.5.4"), bad
    assert client.command(b"MAIL FROM:<alice@hosted.example> RET=HDRS ENVID=" + b"e" * 100).startswith(b"250 ")
    for bad in (b"NOTIFY=NEVER,SUCCESS", b"NOTIFY=DELAY NOTIFY=DELAY", b"ORCPT=bob@hosted.example",
                b"ORCPT=rfc822;" + b"b" * 494, b"NOTIFY=SOMETIMES"):  # fmt: skip
        assert client.command(b"RCPT TO:<bob@hosted.example> " + bad).startswith(b"501 5.5.4"), bad
    orcpt = b"ORCPT=rfc822;" + b"b" * 493
    assert client.command(b"RCPT TO:<bob@hosted.example> NOTIFY=SUCCESS,FAILURE " + orcpt).startswith(b"250 ")
    assert client.command(b"RCPT TO:<bob@hosted.example> FOO=BAR").startswith(b"555 5.5.4")
    assert client.command(b"RSET").startswith(b"250 ")
    client.close()


def test_a_success_report_for_a_hosted_mailbox_lands_in_the_senders_mailbox(shared_smtp: RunningSmtp) -> None:
    before = len(maildir_messages(shared_smtp.settings, ALICE))
    with submit(shared_smtp) as client:
        client.sendmail(ALICE, [BOB], MESSAGE, mail_options=["RET=FULL", "ENVID=QQ+2B1"],
                        rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;Bob@hosted.example"])  # fmt: skip
        client.sendmail(ALICE, [BOB], MESSAGE, rcpt_options=["NOTIFY=FAILURE"])
        client.sendmail(ALICE, [BOB], MESSAGE)
    [report] = reports(shared_smtp, before)
    assert report["Subject"] == "Successful Mail Delivery Report"
    assert report.get_content_type() == "multipart/report" and report.get_param("report-type") == "delivery-status"
    assert report["Return-Path"] == "<>" and report["To"] == f"<{ALICE}>"
    _human, status, returned = report.get_payload()
    assert status.get_payload()[0]["Original-Envelope-Id"] == "QQ+1"
    fields = per_recipient(report)
    assert (fields["Action"], fields["Status"]) == ("delivered", "2.0.0")
    assert fields["Final-Recipient"] == f"rfc822; {BOB}" and fields["Original-Recipient"] == "rfc822;Bob@hosted.example"
    assert returned.get_content_type() == "text/rfc822-headers"  # RET is for failures only


def test_a_full_mailbox_is_reported_unless_notify_leaves_failures_out(shared_smtp: RunningSmtp) -> None:
    """Without SIZE, a mailbox with too little room is only found full at the end of DATA."""
    tiny = f"tiny-dsn@{DOMAIN}"
    create_mailbox(shared_smtp.db, tiny, "tiny-dsn-pw", quota_bytes=3000, actor=CONSOLE)
    big = MESSAGE + (b"x" * 70 + b"\r\n") * 60
    before = len(maildir_messages(shared_smtp.settings, ALICE))
    with submit(shared_smtp) as client:
        for mail, rcpt in (([], ["NOTIFY=NEVER"]), ([], ["NOTIFY=SUCCESS"]), (["RET=FULL"], ["NOTIFY=FAILURE"])):
            client.mail(ALICE, mail)
            assert client.rcpt(BOB)[0] == 250 and client.rcpt(tiny, rcpt)[0] == 250
            assert client.data(big)[0] == 250
    [report] = reports(shared_smtp, before)
    fields = per_recipient(report)
    assert (fields["Action"], fields["Status"], fields["Final-Recipient"]) == ("failed", "5.2.2", f"rfc822; {tiny}")
    assert report.get_payload()[2].get_content_type() == "message/rfc822"


@pytest.fixture
def refusing(start_smtp, smarthost: StockSmtp) -> RunningSmtp:  # type: ignore[no-untyped-def]
    smarthost.handler.rcpt_replies[REMOTE] = ["550 5.1.1 no such user"]
    return start_smtp(relay_host=f"127.0.0.1:{smarthost.port}", queue_retry_base=60)


def test_a_refusing_next_hop_gives_a_failure_report_with_the_whole_message(refusing: RunningSmtp) -> None:
    send(refusing, REMOTE, mail=["RET=FULL", "ENVID=env-1"], rcpt=["NOTIFY=FAILURE,DELAY", f"ORCPT=rfc822;{REMOTE}"])
    work_queue(refusing.db)
    [report] = reports(refusing)
    assert report["Subject"] == "Undelivered Mail Returned to Sender"
    fields = per_recipient(report)
    assert (fields["Action"], fields["Status"], fields["Original-Recipient"]) == ("failed", "5.1.1", f"rfc822;{REMOTE}")
    assert report.get_payload()[1].get_payload()[0]["Original-Envelope-Id"] == "env-1"
    [returned] = report.get_payload()[2].get_payload()
    assert returned["Subject"] == "dsn test" and returned.get_payload() == "the body\r\n"


def test_notify_never_sends_no_failure_report(refusing: RunningSmtp) -> None:
    send(refusing, REMOTE, mail=[], rcpt=["NOTIFY=NEVER"])
    work_queue(refusing.db)
    assert reports(refusing) == []
    with refusing.db.session.begin() as s:
        assert list(s.scalars(select(OutboundMessage.id))) == []  # settled all the same
        assert list(s.scalars(select(LoggedRecipient.status))) == ["failed"]  # failed, and no one told


def test_a_next_hop_without_dsn_makes_a_relayed_report(start_smtp, smarthost: StockSmtp) -> None:  # type: ignore[no-untyped-def]
    server = start_smtp(relay_host=f"127.0.0.1:{smarthost.port}")
    send(server, REMOTE, mail=[], rcpt=["NOTIFY=SUCCESS"])
    send(server, "other@remote.example", mail=[], rcpt=["NOTIFY=FAILURE"])
    work_queue(server.db)
    assert len(smarthost.received) == 2
    [report] = reports(server)
    fields = per_recipient(report)
    assert (fields["Action"], fields["Status"], fields["Final-Recipient"]) == ("relayed", "2.0.0", f"rfc822; {REMOTE}")
    assert fields["Diagnostic-Code"] == "smtp; 250 OK queued"


@pytest.fixture
def dsn_smarthost(settings) -> Iterator[StockSmtp]:  # type: ignore[no-untyped-def]
    host = start_smarthost(settings, offers_dsn=True)
    yield host
    host.stop()


def test_a_next_hop_that_offers_dsn_gets_the_parameters_and_we_report_nothing(
    start_smtp, dsn_smarthost: StockSmtp  # type: ignore[no-untyped-def]
) -> None:
    server = start_smtp(relay_host=f"127.0.0.1:{dsn_smarthost.port}")
    send(server, REMOTE, mail=["RET=HDRS", "ENVID=Id+2Bcase"], rcpt=["NOTIFY=SUCCESS,DELAY", "ORCPT=rfc822;X+2By@a.example"])
    send(server, REMOTE, mail=[], rcpt=[])
    work_queue(server.db)
    size = len(dsn_smarthost.received[0][2])
    arguments = dsn_smarthost.handler.arguments
    # each message leaves with the VERP return path of its own log entry (shared.mail.verp)
    verp = re.compile(r"^MAIL FROM:<verp=[0-9a-f]+=[0-9a-f]+@hosted\.example>")
    assert sorted((verp.sub("MAIL FROM:<verp>", mail), rcpt) for mail, rcpt in arguments) == [
        (f"MAIL FROM:<verp> SIZE={size}", f"RCPT TO:<{REMOTE}>"),
        (f"MAIL FROM:<verp> SIZE={size} RET=HDRS ENVID=Id+2Bcase",
         f"RCPT TO:<{REMOTE}> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;X+2By@a.example"),
    ]  # fmt: skip
    assert reports(server) == []


def back_date(db: Database, by: timedelta) -> None:
    """Every queued message arrived `by` earlier, and every recipient is due now (in Python:
    SQLite has no date arithmetic)."""
    with db.session.begin() as s:
        for message in s.scalars(select(OutboundMessage)):
            message.created_at -= by
        for recipient in s.scalars(select(OutboundRecipient)):
            recipient.next_attempt_at -= by


def test_one_delay_notice_after_four_hours_deferred(start_smtp, smarthost: StockSmtp) -> None:  # type: ignore[no-untyped-def]
    smarthost.handler.rcpt_replies[REMOTE] = ["451 4.2.1 try later"]
    server = start_smtp(relay_host=f"127.0.0.1:{smarthost.port}", queue_retry_base=0.01)
    send(server, REMOTE, mail=["ENVID=late"], rcpt=[])  # NOTIFY absent: delays are reported
    work_queue(server.db)
    assert reports(server) == []  # deferred, but not for four hours yet
    for _ in range(3):
        back_date(server.db, DELAY_NOTICE_AFTER)
        assert work_queue(server.db) == 1
    [report] = reports(server)
    assert report["Subject"] == "Delayed Mail (still being retried)"
    fields = per_recipient(report)
    assert (fields["Action"], fields["Status"]) == ("delayed", "4.2.1")
    assert fields["Will-Retry-Until"] and fields["Diagnostic-Code"] == "smtp; 451 4.2.1 try later"
    assert report.get_payload()[1].get_payload()[0]["Original-Envelope-Id"] == "late"
    with server.db.session.begin() as s:
        assert list(s.scalars(select(OutboundMessage.delay_notified))) == [True]


def test_notify_without_delay_gets_no_delay_notice(start_smtp, smarthost: StockSmtp) -> None:  # type: ignore[no-untyped-def]
    smarthost.handler.rcpt_replies[REMOTE] = ["451 4.2.1 try later"]
    server = start_smtp(relay_host=f"127.0.0.1:{smarthost.port}", queue_retry_base=60)
    send(server, REMOTE, mail=[], rcpt=["NOTIFY=SUCCESS,FAILURE"])
    back_date(server.db, DELAY_NOTICE_AFTER + timedelta(minutes=1))
    work_queue(server.db)
    assert reports(server) == []
    with server.db.session.begin() as s:
        assert list(s.scalars(select(OutboundMessage.delay_notified))) == [False]


def test_smtplib_sees_dsn_and_a_bad_notify_refuses_the_recipient(shared_smtp: RunningSmtp) -> None:
    with submit(shared_smtp) as client:
        assert client.has_extn("dsn")
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail(ALICE, [BOB], MESSAGE, rcpt_options=["NOTIFY=NEVER,DELAY"])
