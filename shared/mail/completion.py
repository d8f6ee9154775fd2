"""What a submission server adds to a message its user's client left incomplete (RFC 6409 §8).

Only a missing `Date:` (§8.2) or `Message-ID:` (§8.3) is added; receivers score their absence
as spam. The fields go in front of the header section and every byte the client sent stays as
it was, so a message that has both passes untouched. Only submission calls this: the MX hands
on what it receives (RFC 5322 §3.6 makes neither field its business).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import format_datetime

_SEPARATOR = b"\r\n\r\n"


def new_message_id(hostname: str) -> str:
    """An RFC 5322 msg-id at our host name: 128 random bits need no counter shared between
    processes to be unique (the standard library's make_msgid mixes time, pid and 17 random bits)."""
    return f"<{secrets.token_hex(16)}@{hostname}>"


def header_fields(message: bytes) -> Message:
    """The message's header fields, read from its header section alone (the body may be large)."""
    head, separator, _body = message.partition(_SEPARATOR)
    return BytesHeaderParser().parsebytes(head + separator)


def complete_submission(message: bytes, *, hostname: str, now: datetime) -> bytes:
    """`message` with a `Date:` of `now` and a new `Message-ID:` at `hostname` where it has none."""
    fields = header_fields(message)
    added = ""
    if "Date" not in fields:
        added += f"Date: {format_datetime(now)}\r\n"
    if "Message-ID" not in fields:
        added += f"Message-ID: {new_message_id(hostname)}\r\n"
    if not added:
        return message
    # Without a header section the message is all body: the blank line keeps it out of the fields.
    separator = "\r\n" if not fields.keys() and message and not message.startswith(b"\r\n") else ""
    return (added + separator).encode("ascii") + message
