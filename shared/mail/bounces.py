"""Bounces that come back later: a remote server took a message, then could not deliver it and
sent a DSN (RFC 3464) to our return path. The recipient's log entry becomes `bounced` with the
remote diagnostic (through message_log.record_outcome, which also queues `message.bounced`),
and a 5.x.x status suppresses the address for the sending domain (shared.mail.suppressions).

Which entry a bounce is about: the one its VERP address names (shared.mail.verp), or, for a
bounce to the SRS address of a forwarded copy, the entry whose Message-ID the report returns
(its text/rfc822-headers or message/rfc822 part) and that has the failed recipient. Only a
recipient that left (`relayed`) can bounce later. Reports are read with the email package;
anything that is not a delivery report changes nothing. The bounce itself is delivered to the
sender like any other message (the SMTP handler did that before correlating), so nothing is dropped.
"""
from __future__ import annotations

import email
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from email.parser import HeaderParser

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.mail import message_log, suppressions
from shared.storage.db import Database
from shared.storage.models import LoggedMessage, LoggedRecipient

log = logging.getLogger(__name__)

MAX_RELAY = 300


@dataclass(frozen=True)
class FailedReport:
    """One per-recipient block of a delivery report whose Action is `failed`."""

    recipient: str
    status: str  # the RFC 3463 code, e.g. 5.1.1
    diagnostic: str  # the Diagnostic-Code's text, else the Status field
    reporting_mta: str = ""


@dataclass(frozen=True)
class DeliveryReport:
    failures: tuple[FailedReport, ...]
    original_message_id: str  # without <>, "" when the report returns no header of the original


def read_report(message: bytes) -> DeliveryReport | None:
    """The failures a DSN reports, or None for a message that is no delivery report."""
    parsed = email.message_from_bytes(message)
    if parsed.get_content_type() != "multipart/report" or not parsed.is_multipart():
        return None
    parts = [part for part in parsed.get_payload() if isinstance(part, Message)]
    status = next((part for part in parts if part.get_content_type() == "message/delivery-status"), None)
    if status is None:
        return None
    blocks = [block for block in status.get_payload() if isinstance(block, Message)]
    if not blocks:
        return None
    mta = _typed_value(blocks[0].get("Reporting-MTA", ""))
    failures = tuple(_failure(block, mta) for block in blocks[1:] if _is_failure(block))
    return DeliveryReport(failures, _original_message_id(parts))


def _is_failure(block: Message) -> bool:
    return str(block.get("Action", "")).strip().lower() == "failed" and bool(_recipient(block))


def _failure(block: Message, mta: str) -> FailedReport:
    status = " ".join(str(block.get("Status", "")).split())
    diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
    return FailedReport(
        recipient=_recipient(block),
        status=status.partition(" ")[0],
        diagnostic=_typed_value(diagnostic) or status,
        reporting_mta=mta[:MAX_RELAY],
    )


def _recipient(block: Message) -> str:
    """Final-Recipient, else Original-Recipient: `rfc822; address`."""
    for name in ("Final-Recipient", "Original-Recipient"):
        address = _typed_value(str(block.get(name, ""))).strip("<>").lower()
        if "@" in address:
            return address[: message_log.MAX_ADDRESS]
    return ""


def _typed_value(field: str) -> str:
    """`type; value` (RFC 3464 §2.1.2) → value; a field without a type as it is."""
    kind, semicolon, value = " ".join(str(field).split()).partition(";")
    return value.strip() if semicolon else kind.strip()


def _original_message_id(parts: list[Message]) -> str:
    for part in parts:
        headers = _returned_headers(part)
        if headers is not None:
            return " ".join(str(headers.get("Message-ID", "")).split()).strip("<>")
    return ""


def _returned_headers(part: Message) -> Message | None:
    """The original's header fields a report part returns (RFC 3462 text/rfc822-headers, or the
    whole message/rfc822), None for other parts."""
    kind = part.get_content_type()
    if kind == "text/rfc822-headers":
        raw = part.get_payload(decode=True)
        return HeaderParser().parsestr(raw.decode("latin-1") if isinstance(raw, bytes) else "")
    if kind == "message/rfc822":
        inner = part.get_payload()
        return inner[0] if isinstance(inner, list) and inner and isinstance(inner[0], Message) else None
    return None


def correlate(db: Database, message: bytes, *, log_ids: Collection[str] = (), by_message_id: bool = False) -> int:
    """Record the failures `message` reports for the entries `log_ids` (a VERP bounce), or, with
    `by_message_id`, for the entry its returned Message-ID names (an SRS bounce). How many
    recipients became `bounced`."""
    report = read_report(message)
    if report is None or not report.failures:
        return 0
    failed = {failure.recipient: failure for failure in report.failures}
    now = datetime.now(timezone.utc)
    recorded = 0
    with db.session.begin() as s:
        for sender, log_id, address, attempts in _relayed(s, failed, log_ids, report.original_message_id if by_message_id else ""):
            failure = failed[address]
            outcome = message_log.Outcome(address, message_log.Status.BOUNCED, failure.diagnostic, failure.reporting_mta)
            message_log.record_outcome(s, log_id=log_id, sender=sender, outcome=outcome, attempts=attempts, at=now)
            if failure.status.startswith("5."):
                suppressions.suppress(s, sender=sender, address=address, reason=failure.diagnostic,
                                      days=db.settings.suppress_days, now=now)
            recorded += 1
    return recorded


def _relayed(s: Session, failed: Collection[str], log_ids: Collection[str], message_id: str) -> list[tuple[str, str, str, int]]:
    """The relayed recipients among `failed` of the entries `log_ids`, or of the entries of
    `message_id`: (sender, log id, address, attempts) each."""
    if not log_ids and not message_id:
        return []
    entry = LoggedMessage.id.in_(log_ids) if log_ids else LoggedMessage.message_id == message_id
    rows = s.execute(
        select(LoggedMessage.sender, LoggedRecipient.log_id, LoggedRecipient.address, LoggedRecipient.attempts)
        .join(LoggedRecipient, LoggedRecipient.log_id == LoggedMessage.id)
        .where(entry, LoggedRecipient.address.in_(failed), LoggedRecipient.status == message_log.Status.RELAYED.value)
        .order_by(LoggedRecipient.id)
    ).all()
    return [(sender, log_id, address, attempts) for sender, log_id, address, attempts in rows]
