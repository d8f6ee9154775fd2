"""The POP3 view of a mailbox: an exclusive lease in the database, the message list, deletes.

The lease is a holder id and an expiry on the mailbox row, taken and renewed with
conditional UPDATEs, so replicas on several hosts exclude each other and a crashed
holder only locks the user out until the lease expires.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, BinaryIO, cast

from sqlalchemy import CursorResult, Update, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared.errors import N_, MaildropLocked, NotFound, TemporaryFailure
from shared.mail import quota
from shared.mail.addresses import parse_address
from shared.storage import maildirs
from shared.storage.db import Database
from shared.storage.maildirs import StoredMessage
from shared.storage.models import Mailbox, utcnow


@dataclass(frozen=True)
class Maildrop:
    mailbox_id: int
    address: str
    messages: tuple[StoredMessage, ...]

    @cached_property
    def _by_uid(self) -> dict[str, StoredMessage]:
        return {message.uid: message for message in self.messages}

    def message(self, uid: str) -> StoredMessage:
        """Constant time: a session asks once per RETR, TOP, DELE and UIDL."""
        try:
            return self._by_uid[uid]
        except KeyError:
            raise NotFound(N_("no message %(uid)s"), uid=uid) from None


def _updated_rows(s: Session, statement: Update) -> int:
    """Rows an UPDATE changed (Session.execute is typed as returning a plain Result)."""
    return cast("CursorResult[Any]", s.execute(statement)).rowcount


def _lease_expiry(db: Database) -> datetime:
    return utcnow() + timedelta(seconds=db.settings.maildrop_lease_seconds)


def open_maildrop(db: Database, address: str, holder: str) -> Maildrop:
    """Take the lease (or raise MaildropLocked) and list the messages."""
    key = str(parse_address(address))
    try:
        with db.session.begin() as s:
            found = s.execute(select(Mailbox.id, Mailbox.maildir).where(Mailbox.address == key)).one_or_none()
            if found is None:
                raise NotFound(N_("unknown mailbox: %(name)s"), name=key)
            mailbox_id, maildir_name = found
            taken = _updated_rows(
                s,
                update(Mailbox)
                .where(
                    Mailbox.id == mailbox_id,
                    or_(Mailbox.lease_holder.is_(None), Mailbox.lease_expires_at < utcnow(), Mailbox.lease_holder == holder),
                )
                .values(lease_holder=holder, lease_expires_at=_lease_expiry(db))
                # Only columns were read: no object to synchronize. The database decides (the
                # criteria evaluated in Python would compare SQLite's naive datetime with an aware one).
                .execution_options(synchronize_session=False),
            )
            if not taken:
                raise MaildropLocked(N_("%(address)s is open in another session"), address=key)
            maildir = db.settings.mail_root / maildir_name
    except SQLAlchemyError as exc:
        raise TemporaryFailure(N_("the maildrop is not available")) from exc
    maildirs.remove_stale_tmp(maildir)  # left by killed deliveries; one scandir, so done at every login
    messages = tuple(maildirs.list_messages(maildir))
    return Maildrop(mailbox_id, key, messages)


def renew_maildrop(db: Database, maildrop: Maildrop, holder: str) -> bool:
    """Extend the lease; False when it was lost (expired and taken by someone else)."""
    with db.session.begin() as s:
        return bool(
            _updated_rows(
                s,
                update(Mailbox)
                .where(Mailbox.id == maildrop.mailbox_id, Mailbox.lease_holder == holder)
                .values(lease_expires_at=_lease_expiry(db)),
            )
        )


def open_message(db: Database, maildrop: Maildrop, uid: str) -> BinaryIO:
    """The stored message (CRLF line ends) opened for reading in chunks.

    Unbuffered: each read is one read(2), which for a regular file returns less than asked
    only at its end; a buffer would cost a second call to find that end, and its own copy."""
    try:
        return open(maildrop.message(uid).location, "rb", buffering=0)
    except FileNotFoundError as exc:
        raise NotFound(N_("message %(uid)s is gone"), uid=uid) from exc


def commit_deletes(db: Database, maildrop: Maildrop, holder: str, uids: list[str]) -> None:
    """Remove the messages, give their bytes back and release the lease, if the lease is still ours."""
    if not uids:  # most QUITs: nothing to remove, so nothing to check first
        release_maildrop(db, maildrop, holder)
        return
    # The row stays locked from the check to the give-back, so a recount after an IMAP change
    # (quota.recount_after_imap) sees the files and the counters both before or both after.
    with db.session.begin() as s:
        lease = select(Mailbox.lease_holder).where(Mailbox.id == maildrop.mailbox_id).with_for_update()
        if s.scalar(lease) != holder:
            raise MaildropLocked(N_("the maildrop lease was lost; nothing was deleted"))
        paths = [maildrop.message(uid).path for uid in dict.fromkeys(uids)]  # a uid named twice is one message
        removed = [path for path in paths if path.exists()]
        freed = maildirs.remove_messages(removed)
        quota.give_back(s, maildrop.mailbox_id, freed, len(removed))
        _release(s, maildrop.mailbox_id, holder)


def release_maildrop(db: Database, maildrop: Maildrop, holder: str) -> None:
    with db.session.begin() as s:
        _release(s, maildrop.mailbox_id, holder)


def _release(s: Session, mailbox_id: int, holder: str) -> None:
    s.execute(
        update(Mailbox)
        .where(Mailbox.id == mailbox_id, Mailbox.lease_holder == holder)
        .values(lease_holder=None, lease_expires_at=None)
    )
