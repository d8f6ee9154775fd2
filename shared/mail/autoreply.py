"""Out-of-office replies (RFC 3834): when a mailbox answers, what the answer says, and the
memory that answers each sender at most once per interval.

`build_reply` is the rule on its own (headers in, reply or None, no I/O); `due_replies` reads
the delivered mailboxes' settings and claims the memory in one transaction, and
shared.mail.mailflow sends what it returns.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import format_datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.errors import N_, InvalidValue
from shared.mail.completion import new_message_id
from shared.storage.db import Database
from shared.storage.models import AutoReplySent, Mailbox, OutOfOffice

INTERVAL = timedelta(days=7)
MAX_SUBJECT = 255
MAX_TEXT = 10_000
# RFC 3834 §2: not to list software and mail systems; no-reply senders would not read it.
SYSTEM_SENDERS = re.compile(r"^(mailer-daemon|postmaster|listserv|majordomo|no-?reply|owner-.*|.*-request)$", re.I)
BULK_PRECEDENCE = {"bulk", "list", "junk"}
MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Notice:
    """A mailbox's out-of-office setting; the dates are inclusive, in UTC, None is open-ended."""

    enabled: bool = False
    subject: str = ""
    text: str = ""
    starts_on: date | None = None
    ends_on: date | None = None

    @classmethod
    def of(cls, row: OutOfOffice | None) -> Notice:
        if row is None:
            return cls()
        return cls(row.enabled, row.subject, row.text, row.starts_on, row.ends_on)

    def is_active(self, today: date) -> bool:
        return self.enabled and (self.starts_on or today) <= today <= (self.ends_on or today)


def checked_notice(notice: Notice) -> Notice:
    """The setting as a user gave it, or InvalidValue. The subject becomes a header line, so a
    line break in it could add headers of the sender's choosing: it is refused, not cleaned."""
    subject = notice.subject.strip()
    if "\r" in subject or "\n" in subject:
        raise InvalidValue(N_("the subject must be one line"))
    if len(subject) > MAX_SUBJECT:
        raise InvalidValue(N_("the subject may have at most %(limit)s characters"), limit=MAX_SUBJECT)
    if len(notice.text) > MAX_TEXT:
        raise InvalidValue(N_("the text may have at most %(limit)s characters"), limit=MAX_TEXT)
    if notice.starts_on and notice.ends_on and notice.ends_on < notice.starts_on:
        raise InvalidValue(N_("the last day comes before the first"))
    if notice.enabled and not notice.text.strip():
        raise InvalidValue(N_("an out-of-office reply needs a text"))
    return Notice(notice.enabled, subject, notice.text, notice.starts_on, notice.ends_on)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def is_automatic(headers: Message) -> bool:
    """Mail that no person wrote for this recipient alone: answering it could start a loop
    or write to a whole list (RFC 3834 §2)."""
    auto_submitted = str(headers.get("Auto-Submitted", "no")).split(";")[0].strip().lower()
    precedence = str(headers.get("Precedence", "")).strip().lower()
    from_a_list = any(name.lower().startswith("list-") for name in headers)
    return auto_submitted != "no" or precedence in BULK_PRECEDENCE or from_a_list


def build_reply(
    original: bytes, *, envelope_sender: str, mailbox: str, notice: Notice, hostname: str, now: datetime
) -> bytes | None:
    """The reply `mailbox` owes `envelope_sender` for `original`, or None when it must not answer."""
    local = envelope_sender.rpartition("@")[0]
    if not local or SYSTEM_SENDERS.match(local) or envelope_sender.lower() == mailbox.lower():
        return None
    headers = BytesHeaderParser(policy=policy.default).parsebytes(original)
    if is_automatic(headers):
        return None
    reply = EmailMessage(policy=policy.SMTPUTF8 if not envelope_sender.isascii() else policy.SMTP)
    reply["From"] = mailbox
    reply["To"] = envelope_sender
    reply["Subject"] = one_line(notice.subject) or "Auto: " + one_line(str(headers.get("Subject", "")))
    reply["Date"] = format_datetime(now)
    reply["Message-ID"] = new_message_id(hostname)
    reply["Auto-Submitted"] = "auto-replied"
    found = MESSAGE_ID.search(str(headers.get("Message-ID", "")))
    if found:
        earlier = MESSAGE_ID.findall(str(headers.get("References", "")))
        reply["In-Reply-To"] = found.group()
        reply["References"] = " ".join([*earlier, found.group()])
    reply.set_content(notice.text, charset="utf-8")
    return reply.as_bytes()


def one_line(text: str) -> str:
    """Header text without line breaks, whatever a stored setting or an incoming subject holds."""
    return " ".join(text.split())


def due_replies(db: Database, original: bytes, *, sender: str, mailbox_ids: Sequence[int]) -> list[bytes]:
    """The replies the mailboxes that just received `original` owe its envelope `sender` now.
    Each is remembered in the same transaction, so no replica answers that sender again within
    INTERVAL (even if sending the reply fails afterwards)."""
    now = now_utc()
    enabled = (
        select(OutOfOffice, Mailbox.address)
        .join(Mailbox, Mailbox.id == OutOfOffice.mailbox_id)
        .where(OutOfOffice.mailbox_id.in_(mailbox_ids), OutOfOffice.enabled)
    )
    # Almost every delivery finds no reply to send: that answer comes from a read, which on
    # SQLite takes no write lock, so the writers' queue sees no extra turn per message.
    with db.read_session.begin() as s:
        if s.scalar(select(enabled.exists())) is not True:
            return []
    replies = []
    with db.session.begin() as s:
        for row, address in s.execute(enabled).all():
            notice = Notice.of(row)
            if not notice.is_active(now.date()):
                continue
            reply = build_reply(
                original, envelope_sender=sender, mailbox=address, notice=notice, hostname=db.settings.hostname, now=now
            )
            if reply is not None and _claim(s, row.mailbox_id, sender.lower(), now):
                replies.append(reply)
    return replies


def _claim(s: Session, mailbox_id: int, sender: str, now: datetime) -> bool:
    """Remember answering `sender` now, unless the mailbox did within INTERVAL. The mailbox's
    older memories are pruned first; a replica that answered at the same moment wins the key."""
    s.execute(delete(AutoReplySent).where(AutoReplySent.mailbox_id == mailbox_id, AutoReplySent.sent_at <= now - INTERVAL))
    try:
        with s.begin_nested():
            s.add(AutoReplySent(mailbox_id=mailbox_id, sender=sender, sent_at=now))
    except IntegrityError:
        return False
    return True
