"""Delivery reports as remote MTAs write them (tests/corpus), read by shared.mail.bounces: the
failed recipients with their status and diagnostic, and the Message-ID of the original; anything
that is no report, or reports no failure, yields nothing to correlate."""
from __future__ import annotations

from pathlib import Path

from shared.mail.bounces import FailedReport, read_report

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def test_a_report_returning_the_whole_message() -> None:
    report = read_report((CORPUS / "030-dsn-multipart-report.eml").read_bytes())
    assert report is not None
    assert report.failures == (
        FailedReport("jangel1@cougar.noc.ucla.edu", "5.0.0", "5.0.0 (recipient reached disk quota)", "cougar.noc.ucla.edu"),
    )
    assert report.original_message_id == "002001c144a6$8752e060$56104586@oxy.edu"


def test_an_exchange_online_report() -> None:
    report = read_report((CORPUS / "031-dsn-office365-bounce.eml").read_bytes())
    assert report is not None
    [failure] = report.failures
    assert (failure.recipient, failure.status) == ("noname@example.com", "5.1.10")
    assert failure.diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")
    assert report.original_message_id == "20171013111011.20866.254C2F3A4D7AA526@ninomail.com"


def test_other_messages_and_delays_give_nothing_to_correlate() -> None:
    assert read_report((CORPUS / "032-mdn-disposition-notification.eml").read_bytes()) is None
    assert read_report((CORPUS / "001-plain-ascii-minimal.eml").read_bytes()) is None
    delayed = (
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.remote.example\r\n\r\n"
        b"Final-Recipient: rfc822; late@remote.example\r\nAction: delayed\r\nStatus: 4.4.7\r\n\r\n--b--\r\n"
    )
    report = read_report(delayed)
    assert report is not None and report.failures == () and report.original_message_id == ""
