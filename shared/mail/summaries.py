"""What a listing shows of a message, from its header section alone: date, sender, subject,
and the spam verdict the MX wrote (`X-Spam-Score`, `X-Spam-Reasons`).

Any field may be missing or malformed (a message an IMAP client moved into Junk has no
verdict; spam has broken headers on purpose): each then reads as empty, never as an error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime

SCORE_FIELD = "X-Spam-Score"
REASONS_FIELD = "X-Spam-Reasons"
# What a page shows of a field: a subject or a reason list longer than this is spam's padding.
MAX_SHOWN = 300
MAX_REASONS = 50


@dataclass(frozen=True)
class MessageSummary:
    date: datetime  # the Date: field in UTC, or when the message was stored
    sender: str
    subject: str
    spam_score: float | None
    spam_reasons: tuple[str, ...]


def summarise(head: bytes, stored_at: float) -> MessageSummary:
    """The summary of a header section; `stored_at` (a POSIX time) stands in for a missing Date:."""
    fields = BytesHeaderParser(policy=compat32).parsebytes(head)
    return MessageSummary(
        date=_date(fields) or datetime.fromtimestamp(stored_at, UTC),
        sender=_text(fields, "From"),
        subject=_text(fields, "Subject"),
        spam_score=_score(fields),
        spam_reasons=_reasons(fields),
    )


def _raw(fields: Message, name: str) -> str:
    """The field's value unfolded, as sent (undecodable bytes escaped), or "" when it is absent."""
    value = fields.get(name)
    if value is None:
        return ""
    return " ".join(str(value).split())


def _text(fields: Message, name: str) -> str:
    """The field decoded from RFC 2047 encoded words; as sent when they do not decode."""
    raw = _raw(fields, name)
    try:
        decoded = str(make_header(decode_header(raw)))
    except (MessageError, LookupError, UnicodeError, ValueError):  # an unknown charset, a broken word
        decoded = raw
    printable = "".join(ch if ch.isprintable() else "\N{REPLACEMENT CHARACTER}" for ch in decoded)
    return printable[:MAX_SHOWN]


def _date(fields: Message) -> datetime | None:
    raw = _raw(fields, "Date")
    if not raw:
        return None
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _score(fields: Message) -> float | None:
    try:
        score = float(_raw(fields, SCORE_FIELD))
    except ValueError:
        return None
    return score if math.isfinite(score) else None


def _reasons(fields: Message) -> tuple[str, ...]:
    listed = (reason.strip()[:MAX_SHOWN] for reason in _text(fields, REASONS_FIELD).split(","))
    return tuple(reason for reason in listed if reason)[:MAX_REASONS]
