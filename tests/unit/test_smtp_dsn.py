"""Delivery status notifications (RFC 3464, RFC 6522) and the retry schedule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes

import pytest

from shared.mail.dsn import FailedRecipient, build_dsn, status_of
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
        FailedRecipient("x@remote.example", "550 5.1.1 no such user"),
        FailedRecipient("y@remote.example", "timeout", expired=True),
    ]
    dsn = build_dsn(
        reporting_host="mx.hosted.example",
        sender="a@hosted.example",
        failures=failures,
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
