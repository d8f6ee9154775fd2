"""Delivery status notifications (RFC 3464): the reports sent to a sender when delivery failed,
is delayed, or (when asked for with DSN, RFC 3461) succeeded.

Built by hand rather than with the email package so the bytes are exactly what RFC 3464
and RFC 6522 describe, CRLF throughout. The original message is returned as headers only
(text/rfc822-headers), which is enough to identify it and never bounces a large body back,
unless the sender asked for RET=FULL: then a failure report returns it whole (message/rfc822;
RFC 3461 §4.3 applies RET to failures only).
"""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from shared.mail.completion import new_message_id
from shared.mail.dsn_requests import NO_MESSAGE_REQUEST, MessageRequest, Ret

MAX_RETURNED_HEADERS = 64 * 1024
_ENHANCED = re.compile(r"^[245][0-9][0-9][ -]([245]\.[0-9]{1,3}\.[0-9]{1,3})\b")
_BASIC = re.compile(r"^([245])[0-9][0-9]\b")


class Action(enum.Enum):
    """RFC 3464 §2.3.3; one report tells of one action."""

    FAILED = "failed"
    DELAYED = "delayed"
    DELIVERED = "delivered"  # into a hosted mailbox
    RELAYED = "relayed"  # to a next hop that does not offer DSN


@dataclass(frozen=True)
class ReportedRecipient:
    address: str
    reply: str  # the remote server's reply, or our own description of what happened
    expired: bool = False  # given up after temporary failures, not refused
    original_recipient: str | None = None  # the ORCPT asked for, "addr-type;address"


@dataclass(frozen=True)
class _Wording:
    subject: str
    summary: str


_WORDING = {
    Action.FAILED: _Wording(
        "Undelivered Mail Returned to Sender", "Your message could not be delivered to one or more recipients:"
    ),
    Action.DELAYED: _Wording(
        "Delayed Mail (still being retried)",
        "Your message could not be delivered for some time to the recipients below. It is still\r\n"
        "being retried; you do not need to send it again.",
    ),
    Action.DELIVERED: _Wording(
        "Successful Mail Delivery Report", "Your message was delivered to the mailboxes of these recipients:"
    ),
    Action.RELAYED: _Wording(
        "Successful Mail Delivery Report",
        "Your message was handed on to the next mail system for these recipients, which will not\r\n"
        "confirm the final delivery; you may still hear of errors from it:",
    ),
}


def status_of(reply: str, expired: bool, action: Action = Action.FAILED) -> str:
    """The RFC 3463 status for a failure or a delay: the remote's enhanced code, or one derived
    from it; 2.0.0 for a success."""
    if action in (Action.DELIVERED, Action.RELAYED):
        return "2.0.0"
    if action is Action.DELAYED:
        status = status_of(reply, expired=False)
        return status if status.startswith("4") else "4.0.0"
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


def _per_recipient(recipient: ReportedRecipient, action: Action, now: datetime, retry_until: datetime | None) -> str:
    fields = [f"Final-Recipient: rfc822; {recipient.address}"]
    if recipient.original_recipient:
        fields.insert(0, f"Original-Recipient: {_printable(recipient.original_recipient)}")
    fields += [f"Action: {action.value}", f"Status: {status_of(recipient.reply, recipient.expired, action)}"]
    fields += [f"Diagnostic-Code: {_diagnostic(recipient.reply)}", f"Last-Attempt-Date: {format_datetime(now)}"]
    if action is Action.DELAYED and retry_until is not None:
        fields.append(f"Will-Retry-Until: {format_datetime(retry_until)}")
    return "\r\n".join(fields)


def _returned_part(original: bytes, action: Action, request: MessageRequest) -> tuple[str, bytes]:
    if action is Action.FAILED and request.ret is Ret.FULL:
        body = original if original.endswith(b"\r\n") else original + b"\r\n"
        return "message/rfc822", body
    return "text/rfc822-headers", original_headers(original)


def build_dsn(
    *,
    reporting_host: str,
    sender: str,
    recipients: Sequence[ReportedRecipient],
    original: bytes,
    arrival: datetime,
    now: datetime,
    action: Action = Action.FAILED,
    request: MessageRequest = NO_MESSAGE_REQUEST,
    retry_until: datetime | None = None,
) -> bytes:
    """One report of `action` for `recipients`; `request` is what the sender's MAIL asked for
    (RET, ENVID), `retry_until` the end of a delayed message's retries."""
    boundary = f"beacon-dsn-{secrets.token_hex(12)}"
    wording = _WORDING[action]
    recipients_text = "\r\n".join(f"<{r.address}>: {_printable(r.reply)}" for r in recipients)
    per_recipient = "\r\n\r\n".join(_per_recipient(r, action, now, retry_until) for r in recipients)
    envelope_id = f"Original-Envelope-Id: {_printable(request.envid)}\r\n" if request.envid else ""
    returned_type, returned = _returned_part(original, action, request)
    text = (
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_host}>\r\n"
        f"To: <{sender}>\r\n"
        f"Subject: {wording.subject}\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"Message-ID: {new_message_id(reporting_host)}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"This is the mail system at {reporting_host}.\r\n\r\n"
        f"{wording.summary}\r\n\r\n"
        f"{recipients_text}\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        f"{envelope_id}"
        f"Reporting-MTA: dns; {reporting_host}\r\n"
        f"Arrival-Date: {format_datetime(arrival)}\r\n\r\n"
        f"{per_recipient}\r\n\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: {returned_type}\r\n\r\n"
    )
    return text.encode("utf-8") + returned + f"\r\n--{boundary}--\r\n".encode("ascii")
