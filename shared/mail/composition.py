"""A message written from the parts an HTTP client sends (POST /api/v1/messages): the standard
library's EmailMessage builds the MIME structure, encodes non-ASCII header text (RFC 2047) and
bodies, and writes CRLF line ends, as stored mail has them.

The common request (text only, every header value plain ASCII that fits on its line, ASCII
text of short lines) is written directly, byte for byte as EmailMessage writes it: there the
email package would parse each value into a syntax tree and fold it back only to write the
same characters, three quarters of the CPU of composing (bench/RESULTS.md, issue 20).

Every complaint names the request field at fault (`FieldError.field`), so the API can say
which one. A header value is refused when it holds a line break: otherwise a subject or a
filename could add header fields of its own (a Bcc the sender did not show, another From).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr

from shared.errors import N_, InvalidAddress, InvalidValue, MessageId
from shared.mail.addresses import parse_address
from shared.mail.completion import complete_submission, header_fields, new_message_id
from shared.mail.lineends import to_crlf

# RFC 5322 §3.6.8: a field name is printable ASCII without space and colon.
FIELD_NAME = re.compile(r"[!-9;-~]{1,76}")
MIME_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}")
# Fields the message's own parts set, and trace fields only servers write.
RESERVED_FIELDS = frozenset(
    name.lower()
    for name in (
        "From", "Sender", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "MIME-Version", "Received",
        "Return-Path", "DKIM-Signature", "ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results",
        "Authentication-Results", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition",
    )
)
# RFC 5322 §3.6.6: Resent-From, -Sender, -To, -Cc, -Bcc … name another author and other
# recipients, a way round both the From rule and the Bcc kept out of the header.
RESENT_PREFIX = "resent-"
BCC_FIELD = re.compile(rb"(?:resent-)?bcc[ \t]*:", re.IGNORECASE)
# Values EmailMessage writes as given: printable ASCII with nothing to quote, fold or encode
# (no comments, quoted strings, encoded-word look-alikes or runs of spaces).
_PLAIN_ADDRESS = r"[A-Za-z0-9][A-Za-z0-9._+-]*@[A-Za-z0-9][A-Za-z0-9.-]*"
_PLAIN_MAILBOX = rf"(?:[A-Za-z0-9]+(?: [A-Za-z0-9]+)* <{_PLAIN_ADDRESS}>|{_PLAIN_ADDRESS})"
PLAIN_ADDRESSES = re.compile(rf"{_PLAIN_MAILBOX}(?:, {_PLAIN_MAILBOX})*")
PLAIN_TEXT = re.compile(r"(?!.*=\?)[!-~]+(?: [!-~]+)*")
PLAIN_MESSAGE_ID = re.compile(rf"<{_PLAIN_ADDRESS}>")
# format_datetime's form; a year below 100 EmailMessage reads back as 19xx or 20xx (RFC 5322 §4.3).
PLAIN_DATE = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} (?!00)\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}")
MAX_LINE = 78  # RFC 5322 §2.1.1, the SMTP policy's max_line_length
PLAIN_BODY_HEAD = b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 7bit\r\nMIME-Version: 1.0\r\n\r\n'


class FieldError(InvalidValue):
    """`field` of the request is not acceptable: `message` (which starts with `%(field)s: `) says why."""

    def __init__(self, field: str, message: MessageId, /, **params: object) -> None:
        super().__init__(message, field=field, **params)
        self.field = field


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Draft:
    """What the client asked for. `author` is the From field as given: `a@b` or `Name <a@b>`."""

    author: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    subject: str = ""
    text: str | None = None
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()


def mailbox_of(field: str, text: str) -> str:
    """The address of `text` (`a@b` or `Name <a@b>`), normalised; FieldError when it is none."""
    if "\r" in text or "\n" in text:
        raise FieldError(field, N_("%(field)s: must not contain line breaks"))
    _name, address = parseaddr(text)
    try:
        return str(parse_address(address))
    except InvalidAddress:
        raise FieldError(field, N_("%(field)s: not a valid address: %(text)r"), text=text) from None


def compose(draft: Draft, *, hostname: str, now: datetime) -> bytes:
    """The message, with a new Date and Message-ID (RFC 6409 §8, as submission adds them)."""
    date, message_id = format_datetime(now), new_message_id(hostname)
    plain = write_plain(draft, date=date, message_id=message_id)
    return plain if plain is not None else write_mime(draft, date=date, message_id=message_id)


def write_plain(draft: Draft, *, date: str, message_id: str) -> bytes | None:
    """The message as `write_mime` writes it, when `draft` is the common text-only case; None
    for anything else. Only values `write_mime` accepts unchanged and cannot refuse pass."""
    if draft.html is not None or draft.attachments or draft.headers or draft.text is None:
        return None
    fields = [("From", draft.author, PLAIN_ADDRESSES), ("To", ", ".join(draft.to), PLAIN_ADDRESSES)]
    if draft.cc:
        fields.append(("Cc", ", ".join(draft.cc), PLAIN_ADDRESSES))
    fields += [("Subject", draft.subject, PLAIN_TEXT), ("Date", date, PLAIN_DATE), ("Message-ID", message_id, PLAIN_MESSAGE_ID)]
    if not all(plain.fullmatch(value) and len(name) + 2 + len(value) <= MAX_LINE for name, value, plain in fields):
        return None
    if not draft.text.isascii():
        return None
    head = "".join(f"{name}: {value}\r\n" for name, value, _plain in fields)
    # The email package's own choice (contentmanager._encode_text): 7bit when every line fits.
    lines = draft.text.encode("ascii").splitlines()
    if any(len(line) > MAX_LINE for line in lines):
        return None
    return head.encode("ascii") + PLAIN_BODY_HEAD + b"\r\n".join(lines) + b"\r\n"


def write_mime(draft: Draft, *, date: str, message_id: str) -> bytes:
    """The message as the standard library's EmailMessage writes it (SMTP policy)."""
    message = EmailMessage(policy=policy.SMTP)
    _set(message, "from", "From", draft.author)
    for field, name, addresses in (("to", "To", draft.to), ("cc", "Cc", draft.cc)):
        if addresses:
            _set(message, field, name, ", ".join(addresses))
    _set(message, "subject", "Subject", draft.subject)
    message["Date"] = date
    message["Message-ID"] = message_id
    for name, value in draft.headers:
        _add_header(message, name, value)
    _set_body(message, draft)
    for index, attachment in enumerate(draft.attachments):
        _attach(message, f"attachments[{index}]", attachment)
    try:
        return message.as_bytes(policy=policy.SMTP)
    except (ValueError, UnicodeError) as error:  # an address the header encoder cannot write
        raise FieldError("from", N_("%(field)s: the message cannot be written: %(reason)s"), reason=str(error)) from None


def _set(message: EmailMessage, field: str, name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise FieldError(field, N_("%(field)s: must not contain line breaks"))
    try:
        header = policy.SMTP.header_factory(name, value)
        message[name] = header
    # AttributeError: the standard library's address parser fails so on a group name it
    # cannot read (".:a@b", Python 3.11).
    except (ValueError, TypeError, IndexError, AttributeError) as error:
        raise FieldError(field, N_("%(field)s: %(reason)s"), reason=str(error)) from None
    if not _folds_cleanly(header.fold(policy=policy.SMTP)):
        raise FieldError(field, N_("%(field)s: the message cannot be written: %(reason)s"), reason="the header field would break in two")


def _folds_cleanly(folded: str) -> bool:
    """Whether every line after the first of a written field is a continuation line. The
    standard library folds some encoded group names ("é:𐀀 <a@b>") into a line of their own
    that readers take for the next field, or the end of the header section."""
    return all(line[:1] in ("", " ", "\t") for line in folded.split("\r\n")[1:])


def _add_header(message: EmailMessage, name: str, value: str) -> None:
    field = f"headers.{name}"
    if not FIELD_NAME.fullmatch(name):
        raise FieldError(field, N_("%(field)s: not a header field name"))
    if name.lower() in RESERVED_FIELDS or name.lower().startswith(RESENT_PREFIX):
        raise FieldError(field, N_("%(field)s: is set from the request's own fields, or only by servers"))
    _set(message, field, name, value)


def _set_body(message: EmailMessage, draft: Draft) -> None:
    if draft.text is None and draft.html is None:
        raise FieldError("text", N_("%(field)s: give text, html or both"))
    if draft.text is not None:
        message.set_content(draft.text)
        if draft.html is not None:
            message.add_alternative(draft.html, subtype="html")
    elif draft.html is not None:
        message.set_content(draft.html, subtype="html")


def _attach(message: EmailMessage, field: str, attachment: Attachment) -> None:
    if not MIME_TYPE.fullmatch(attachment.content_type):
        raise FieldError(f"{field}.content_type", N_("%(field)s: must be a MIME type such as application/pdf"))
    if not attachment.filename.strip() or not attachment.filename.isprintable() or "/" in attachment.filename:
        raise FieldError(f"{field}.filename", N_("%(field)s: must be a file name without line breaks, control characters or '/'"))
    maintype, subtype = attachment.content_type.lower().split("/")
    message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)


def complete_raw(raw: bytes, *, hostname: str, now: datetime) -> bytes:
    """A whole message the client wrote itself: CRLF line ends, no Bcc field, and Date and
    Message-ID added where missing, exactly as submission completes one."""
    message = to_crlf(raw)
    if b"\r\n\r\n" not in message and not message.startswith(b"\r\n"):
        raise FieldError("raw_base64", N_("%(field)s: must be a whole message: header fields, a blank line, the body"))
    return complete_submission(_without_bcc(message), hostname=hostname, now=now)


def _without_bcc(message: bytes) -> bytes:
    """The message without its Bcc and Resent-Bcc fields, folded lines and all (RFC 5322
    §3.6.3, §3.6.6: every copy goes out without them), so no recipient learns who else got
    one; other bytes stay as sent."""
    if message.startswith(b"\r\n"):
        return message
    head, separator, body = message.partition(b"\r\n\r\n")
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\r\n"):
        if not line[:1].isspace():
            dropping = BCC_FIELD.match(line) is not None
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept) + separator + body


def authors(message: bytes) -> list[str]:
    """The addresses of the message's From field (RFC 5322 allows several)."""
    return [address for _name, address in getaddresses(header_fields(message).get_all("From", []))]

