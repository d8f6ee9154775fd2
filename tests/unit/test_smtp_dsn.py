"""Delivery status notifications (RFC 3464, RFC 6522) and the retry schedule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.message import Message

import pytest

from shared.mail.dsn import Action, ReportedRecipient, build_dsn, status_of
from shared.mail.dsn_requests import DELAY_NOTICE_AFTER, NO_MESSAGE_REQUEST, MessageRequest, Ret, is_delay_notice_due
from shared.mail.outbound import MAX_BACKOFF, backoff

NOW = datetime(2024, 11, 26, 13, 0, tzinfo=timezone.utc)
ORIGINAL = b"From: a@hosted.example\r\nSubject: hello\r\n\r\nthe body is not returned\r\n"


@pytest.mark.parametrize(
    ("reply", "expired", "status"),
    [
        ("550 5.1.1 no such user", False, "5.1.1"),
        ("550-5.7.1 first line", False, "5.7.1"),
        ("554 rejected", False, "5.0.0"),
        ("451 4.3.0 later", True, "4.4.7"),
        ("connection refused", True, "4.4.7"),
        ("gibberish", False, "5.0.0"),
    ],
)
def test_status_codes(reply: str, expired: bool, status: str) -> None:
    assert status_of(reply, expired) == status


def test_report_structure() -> None:
    failures = [
        ReportedRecipient("x@remote.example", "550 5.1.1 no such user"),
        ReportedRecipient("y@remote.example", "timeout", expired=True),
    ]
    dsn = build_dsn(
        reporting_host="mx.hosted.example",
        sender="a@hosted.example",
        recipients=failures,
        original=ORIGINAL,
        arrival=NOW,
        now=NOW,
    )
    assert b"\n" not in dsn.replace(b"\r\n", b"")
    report = message_from_bytes(dsn)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    assert report["Auto-Submitted"] == "auto-replied" and report["To"] == "<a@hosted.example>"
    human, status, headers = report.get_payload()
    assert human.get_content_type() == "text/plain"
    assert status.get_content_type() == "message/delivery-status"
    assert headers.get_content_type() == "text/rfc822-headers"
    text = dsn.decode()
    assert "Reporting-MTA: dns; mx.hosted.example\r\n" in text
    assert "Final-Recipient: rfc822; x@remote.example\r\nAction: failed\r\nStatus: 5.1.1\r\n" in text
    assert "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n" in text
    assert "Final-Recipient: rfc822; y@remote.example\r\nAction: failed\r\nStatus: 4.4.7\r\n" in text
    assert "Diagnostic-Code: X-Beacon; timeout\r\n" in text
    assert "Subject: hello" in text and "the body is not returned" not in text


def test_backoff_doubles_up_to_four_hours() -> None:
    assert [backoff(n, 300).total_seconds() for n in (1, 2, 3, 4)] == [300, 600, 1200, 2400]
    assert backoff(30, 300) == MAX_BACKOFF == timedelta(hours=4)


def report(action: Action, request: MessageRequest = NO_MESSAGE_REQUEST, reply: str = "250 2.0.0 OK") -> bytes:
    return build_dsn(
        reporting_host="mx.hosted.example",
        sender="a@hosted.example",
        recipients=[ReportedRecipient("x@remote.example", reply, original_recipient="rfc822;X@Remote.example")],
        original=ORIGINAL,
        arrival=NOW,
        now=NOW + timedelta(hours=5),
        action=action,
        request=request,
        retry_until=NOW + timedelta(days=5),
    )


def parts(dsn: bytes) -> tuple[Message, Message, Message]:
    parsed = message_from_bytes(dsn)
    assert parsed.get_content_type() == "multipart/report" and parsed.get_param("report-type") == "delivery-status"
    human, status, returned = parsed.get_payload()
    assert human.get_content_type() == "text/plain" and status.get_content_type() == "message/delivery-status"
    return parsed, status, returned


@pytest.mark.parametrize(
    ("action", "subject", "status"),
    [
        (Action.DELIVERED, "Successful Mail Delivery Report", "2.0.0"),
        (Action.RELAYED, "Successful Mail Delivery Report", "2.0.0"),
        (Action.FAILED, "Undelivered Mail Returned to Sender", "5.1.1"),
    ],
)
def test_each_action_with_the_requests_of_the_sender(action: Action, subject: str, status: str) -> None:
    reply = "550 5.1.1 no such user" if action is Action.FAILED else "250 2.0.0 OK"
    parsed, delivery_status, returned = parts(report(action, MessageRequest(Ret.HDRS, "envelope-7"), reply))
    assert parsed["Subject"] == subject
    per_message, per_recipient = delivery_status.get_payload()
    assert per_message["Original-Envelope-Id"] == "envelope-7"
    assert per_message["Reporting-MTA"] == "dns; mx.hosted.example"
    assert per_recipient["Original-Recipient"] == "rfc822;X@Remote.example"
    assert per_recipient["Final-Recipient"] == "rfc822; x@remote.example"
    assert (per_recipient["Action"], per_recipient["Status"]) == (action.value, status)
    assert per_recipient["Will-Retry-Until"] is None
    assert returned.get_content_type() == "text/rfc822-headers"


def test_a_delay_report_says_until_when_it_is_retried() -> None:
    parsed, delivery_status, _returned = parts(report(Action.DELAYED, reply="451 4.4.1 connection refused"))
    assert parsed["Subject"] == "Delayed Mail (still being retried)"
    per_message, per_recipient = delivery_status.get_payload()
    assert per_message["Original-Envelope-Id"] is None
    assert (per_recipient["Action"], per_recipient["Status"]) == ("delayed", "4.4.1")
    assert per_recipient["Will-Retry-Until"] == "Sun, 01 Dec 2024 13:00:00 +0000"
    assert per_recipient["Diagnostic-Code"] == "smtp; 451 4.4.1 connection refused"
    _parsed, delivery_status, _returned = parts(report(Action.DELAYED, reply="no host answered"))
    assert delivery_status.get_payload()[1]["Status"] == "4.0.0"


def test_ret_full_returns_the_whole_message_of_a_failure_only() -> None:
    _parsed, _status, returned = parts(report(Action.FAILED, MessageRequest(Ret.FULL), "550 5.1.1 gone"))
    assert returned.get_content_type() == "message/rfc822"
    [original] = returned.get_payload()
    assert original["Subject"] == "hello" and original.get_payload() == "the body is not returned\r\n"
    _parsed, _status, returned = parts(report(Action.DELIVERED, MessageRequest(Ret.FULL)))
    assert returned.get_content_type() == "text/rfc822-headers"
    assert b"the body is not returned" not in report(Action.DELAYED, MessageRequest(Ret.FULL))


def test_a_delay_notice_is_due_once_after_four_hours() -> None:
    assert timedelta(hours=4) == DELAY_NOTICE_AFTER
    assert not is_delay_notice_due(NOW, False, NOW + DELAY_NOTICE_AFTER - timedelta(seconds=1))
    assert is_delay_notice_due(NOW, False, NOW + DELAY_NOTICE_AFTER)
    assert not is_delay_notice_due(NOW, True, NOW + timedelta(days=2))
