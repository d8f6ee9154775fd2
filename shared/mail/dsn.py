"""Delivery status notifications (RFC 3464): the bounce sent to a sender when delivery failed.

Built by hand rather than with the email package so the bytes are exactly what RFC 3464
and RFC 6522 describe, CRLF throughout. The original message is returned as headers
only (text/rfc822-headers), which is enough to identify it and never bounces a large
body back.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from shared.mail.completion import new_message_id

MAX_RETURNED_HEADERS = 64 * 1024
_ENHANCED = re.compile(r"^[245][0-9][0-9][ -]([245]\.[0-9]{1,3}\.[0-9]{1,3})\b")
_BASIC = re.compile(r"^([245])[0-9][0-9]\b")


@dataclass(frozen=True)
class FailedRecipient:
    address: str
    reply: str  # the remote server's reply, or our own description of the failure
    expired: bool = False  # given up after temporary failures, not refused


def status_of(reply: str, expired: bool) -> str:
    """The RFC 3463 status for a failure: the remote's enhanced code, or one derived from it."""
    match = _ENHANCED.match(reply)
    if match:
        status = match.group(1)
        return "4.4.7" if expired and status.startswith("4") else status
    if expired:
        return "4.4.7"
    basic = _BASIC.match(reply)
    return f"{basic.group(1)}.0.0" if basic else "5.0.0"


def original_headers(message: bytes) -> bytes:
    head, _separator, _body = message.partition(b"\r\n\r\n")
    return head[:MAX_RETURNED_HEADERS] + b"\r\n"


def _printable(reply: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else " " for ch in reply)[:900] or "failed"


def _diagnostic(reply: str) -> str:
    """An SMTP reply is typed `smtp`; our own description of a failure gets an X- type (RFC 3464 §2.3.6)."""
    return f"smtp; {_printable(reply)}" if _BASIC.match(reply) else f"X-Beacon; {_printable(reply)}"


def build_dsn(
    *,
    reporting_host: str,
    sender: str,
    failures: Sequence[FailedRecipient],
    original: bytes,
    arrival: datetime,
    now: datetime,
) -> bytes:
    boundary = f"beacon-dsn-{secrets.token_hex(12)}"
    recipients_text = "\r\n".join(f"<{f.address}>: {_printable(f.reply)}" for f in failures)
    per_recipient = "\r\n\r\n".join(
        f"Final-Recipient: rfc822; {f.address}\r\nAction: failed\r\nStatus: {status_of(f.reply, f.expired)}\r\n"
        f"Diagnostic-Code: {_diagnostic(f.reply)}\r\nLast-Attempt-Date: {format_datetime(now)}"
        for f in failures
    )
    text = (
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_host}>\r\n"
        f"To: <{sender}>\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"Message-ID: {new_message_id(reporting_host)}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"This is the mail system at {reporting_host}.\r\n\r\n"
        "Your message could not be delivered to one or more recipients:\r\n\r\n"
        f"{recipients_text}\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {reporting_host}\r\n"
        f"Arrival-Date: {format_datetime(arrival)}\r\n\r\n"
        f"{per_recipient}\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
    )
    return text.encode("utf-8") + original_headers(original) + f"\r\n--{boundary}--\r\n".encode("ascii")
