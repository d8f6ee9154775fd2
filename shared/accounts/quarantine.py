"""Use cases for a mailbox's Junk folder (the quarantine): list its messages with the MX's spam
verdict, release one into the inbox, delete one. The mailbox's owner may; so may a manager of
its domain and a global admin, as for its forwarding.

Junk counts in the mailbox's quota like every folder: a release moves bytes between two
counted folders and changes no counter; a delete gives the bytes back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.accounts import audit
from shared.accounts.mailboxes import administered_mailbox, visible_mailbox
from shared.accounts.views import Actor
from shared.errors import N_, InvalidValue
from shared.mail.quota import give_back
from shared.mail.summaries import summarise
from shared.storage.db import Database
from shared.storage.junk_folder import (
    JunkFile,
    find_junk,
    is_junk_id,
    list_junk,
    release_to_inbox,
    remove_junk,
)

# A Junk folder can hold thousands of messages; a page reads the heads of this many, newest first.
MAX_LISTED = 500


@dataclass(frozen=True)
class JunkMessage:
    id: str
    date: datetime
    sender: str
    subject: str
    score: float | None
    reasons: tuple[str, ...]
    size: int


@dataclass(frozen=True)
class JunkListing:
    address: str
    messages: tuple[JunkMessage, ...]
    total: int  # in the folder; more than len(messages) when the newest MAX_LISTED are shown


def checked_junk_id(text: str) -> str:
    """A message id from outside, or InvalidValue: it is never used as a path, but only the
    characters an id can have are looked for."""
    if not is_junk_id(text):
        raise InvalidValue(N_("not a junk message id"))
    return text


def list_junk_messages(db: Database, address: str, *, actor: Actor, limit: int = MAX_LISTED) -> JunkListing:
    """The Junk messages of the actor's own mailbox or of one of its domains, newest first."""
    with db.read_session.begin() as s:
        mailbox = visible_mailbox(s, actor.scope, address, own=True)
        owner, maildir = mailbox.address, db.settings.mail_root / mailbox.maildir
    found, total = list_junk(maildir, min(limit, MAX_LISTED))
    return JunkListing(owner, tuple(_junk_message(file) for file in found), total)


def _junk_message(found: JunkFile) -> JunkMessage:
    summary = summarise(found.head, found.stored_at)
    return JunkMessage(
        id=found.id,
        date=summary.date,
        sender=summary.sender,
        subject=summary.subject,
        score=summary.spam_score,
        reasons=summary.spam_reasons,
        size=found.size,
    )


def release_junk_message(db: Database, address: str, message_id: str, *, actor: Actor) -> None:
    """Move one Junk message into the inbox as unread, with the POP3 UIDL it had (kept on its file)."""
    wanted = checked_junk_id(message_id)
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        s.refresh(mailbox, with_for_update=True)  # one release or delete of a mailbox's Junk at a time
        maildir = db.settings.mail_root / mailbox.maildir
        release_to_inbox(maildir, find_junk(maildir, wanted))
        audit.record(s, actor, "junk.release", mailbox.address, mailbox.domain.name, wanted)


def delete_junk_message(db: Database, address: str, message_id: str, *, actor: Actor) -> None:
    """Remove one Junk message for good and give its bytes back to the mailbox and its domain."""
    wanted = checked_junk_id(message_id)
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        s.refresh(mailbox, with_for_update=True)
        freed = remove_junk(find_junk(db.settings.mail_root / mailbox.maildir, wanted))
        give_back(s, mailbox.id, freed, 1)
        audit.record(s, actor, "junk.delete", mailbox.address, mailbox.domain.name, wanted)
