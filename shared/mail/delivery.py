"""Local delivery: bytes into Maildirs, with quota accounted atomically.

Order per message: one transaction reserves the bytes with conditional UPDATEs (mailbox
quotas, then the domains' totals); then each reserved copy is written + fsynced in tmp/,
and only when all are, renamed into new/ and each directory fsynced. A failure gives the
reservation back; a crash leaves at worst a counter above the disk (never a visible
message that is not counted, never a quota overrun), which `quota recalc` repairs.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, Table, bindparam, exists, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared.errors import TemporaryFailure
from shared.storage import maildirs, rawsql
from shared.storage.db import Database
from shared.storage.models import Domain, Mailbox
from shared.storage.rawsql import RawStatement

log = logging.getLogger(__name__)
# A LF not after a CR. Written LF-first, the regular expression engine jumps from LF to LF
# (7 µs for 10 KB); the usual look-behind-first form tests every byte (250 µs).
BARE_LF = re.compile(rb"\n(?<!\r\n)")


@dataclass(frozen=True)
class DeliveryReport:
    delivered: tuple[int, ...]
    over_quota: tuple[int, ...]


def to_crlf(message: bytes) -> bytes:
    """CRLF line ends throughout and at the end, so POP3 can stream the file as it is."""
    normalised = BARE_LF.sub(b"\r\n", message)  # the same object when there is none
    return normalised if normalised.endswith(b"\r\n") or not normalised else normalised + b"\r\n"


def with_return_path(message: bytes, return_path: str | None) -> bytes:
    if return_path is None:
        return message
    return b"Return-Path: <" + return_path.encode("utf-8") + b">\r\n" + message


def deliver(db: Database, message: bytes, mailbox_ids: Sequence[int], *, return_path: str | None = None) -> DeliveryReport:
    """Store one copy per mailbox; all or nothing on failure (TemporaryFailure)."""
    data = with_return_path(to_crlf(message), return_path)
    ids = sorted(set(mailbox_ids))
    try:
        reserved = _reserve(db, ids, len(data))
    except SQLAlchemyError as exc:
        log.error("delivery to %s failed while reserving quota: %s", ids, exc)
        raise TemporaryFailure("the message could not be stored") from exc
    pending: list[maildirs.PendingMessage] = []
    published: list[Path] = []
    try:
        for maildir in reserved.values():
            pending.append(maildirs.write_pending(f"{db.settings.mail_root}/{maildir}", data))
        for item in pending:
            published.append(maildirs.publish(item))
    except OSError as exc:
        _undo(db, published, pending, list(reserved), len(data))
        log.error("delivery to %s failed while writing: %s", ids, exc)
        raise TemporaryFailure("the message could not be stored") from exc
    return DeliveryReport(tuple(reserved), tuple(i for i in ids if i not in reserved))


_mailbox = Mailbox.__table__
_domain = Domain.__table__


def _room_for(table: Table) -> ColumnElement[bool]:
    """The row has room for `size` more bytes; a quota of 0 means unlimited."""
    return (table.c.quota_bytes == 0) | (table.c.used_bytes + bindparam("size") <= table.c.quota_bytes)


# Prebuilt statements run on the DBAPI cursor (see shared.storage.rawsql): delivery runs them for
# every message, and SQLAlchemy's execution machinery cost more CPU than the database did.
_mailbox_reservation = (
    update(_mailbox)
    .where(_mailbox.c.id == bindparam("mailbox_id"), _room_for(_mailbox))
    .values(used_bytes=_mailbox.c.used_bytes + bindparam("size"), message_count=_mailbox.c.message_count + 1)
    .returning(_mailbox.c.domain_id, _mailbox.c.maildir)
)
_domain_reservation = update(_domain).where(_room_for(_domain)).values(used_bytes=_domain.c.used_bytes + bindparam("size"))
_RESERVE_MAILBOX = RawStatement(_mailbox_reservation)
_MAILBOX_EXISTS = RawStatement(select(_mailbox.c.id).where(_mailbox.c.id == bindparam("mailbox_id")))
_RESERVE_DOMAIN = RawStatement(_domain_reservation.where(_domain.c.id == bindparam("domain_id")))
# PostgreSQL, one mailbox: both UPDATEs in one statement that commits on its own (one round
# trip instead of BEGIN, two UPDATEs and COMMIT). The domain's reads the mailbox's RETURNING,
# so the mailbox row is locked first, the same order as _reserve's. SQLite has no UPDATE in WITH.
_reserved_mailbox = _mailbox_reservation.cte("reserved_mailbox")
_reserved_domain = (
    _domain_reservation.where(_domain.c.id == select(_reserved_mailbox.c.domain_id).scalar_subquery())
    .returning(_domain.c.id)
    .cte("reserved_domain")
)
_RESERVE_ONE = RawStatement(
    select(_reserved_mailbox.c.maildir, exists(select(_reserved_domain.c.id)).label("domain_reserved"))
)
_ACCOUNT_REMOVAL = (
    update(_mailbox)
    .where(_mailbox.c.id == bindparam("mailbox_id"))
    .values(used_bytes=_mailbox.c.used_bytes - bindparam("size"), message_count=_mailbox.c.message_count - bindparam("messages"))
)
_GIVE_BACK_MAILBOX = RawStatement(_ACCOUNT_REMOVAL)


def _reserve(db: Database, ids: list[int], size: int) -> dict[int, str]:
    """Account `size` bytes to every mailbox that has room (and whose domain has), in one
    transaction; the maildirs of those mailboxes, by id. Reserving before writing means a
    full mailbox costs no disk I/O, and the maildir comes with the reservation.

    Rows are locked in one order, as POP3 deletes and mailbox removal do too: the mailboxes
    by id, then their domains by id. Interleaving them deadlocks against a concurrent delete.
    """
    if len(ids) == 1 and not db.is_sqlite:
        return _reserve_one(db, ids[0], size)
    with rawsql.cursor(db, transaction=True) as cursor:
        found: dict[int, tuple[int, str]] = {}
        for mailbox_id in ids:
            row = _RESERVE_MAILBOX.execute(cursor, {"mailbox_id": mailbox_id, "size": size}).fetchone()
            if row is not None:
                found[mailbox_id] = row
            else:
                _refuse_if_vanished(cursor, mailbox_id)
        reserved: dict[int, str] = {}
        for mailbox_id in sorted(found, key=lambda m: (found[m][0], m)):
            domain_id, maildir = found[mailbox_id]
            if _RESERVE_DOMAIN.execute(cursor, {"domain_id": domain_id, "size": size}).rowcount:
                reserved[mailbox_id] = maildir
            else:
                _give_back_one(cursor, mailbox_id, size)
        return dict(sorted(reserved.items()))


def _reserve_one(db: Database, mailbox_id: int, size: int) -> dict[int, str]:
    """_reserve for one mailbox on PostgreSQL, in one statement."""
    with rawsql.cursor(db, transaction=False) as cursor:
        row = _RESERVE_ONE.execute(cursor, {"mailbox_id": mailbox_id, "size": size}).fetchone()
        if row is None:
            _refuse_if_vanished(cursor, mailbox_id)
            return {}
        maildir, domain_reserved = row
        if domain_reserved:
            return {mailbox_id: maildir}
        # The domain is full. Until this gives the bytes back, the mailbox counts a message it
        # will not get: a counter above the disk, the side a crash may leave too.
        _give_back_one(cursor, mailbox_id, size)
        return {}


def _refuse_if_vanished(cursor: rawsql.RawCursor, mailbox_id: int) -> None:
    """After a reservation found no room: a mailbox removed since RCPT is not a full mailbox to
    bounce for; the sender retries and learns."""
    if _MAILBOX_EXISTS.execute(cursor, {"mailbox_id": mailbox_id}).fetchone() is None:
        raise TemporaryFailure(f"mailbox {mailbox_id} vanished during delivery")


def _give_back_one(cursor: rawsql.RawCursor, mailbox_id: int, size: int) -> None:
    _GIVE_BACK_MAILBOX.execute(cursor, {"mailbox_id": mailbox_id, "size": size, "messages": 1})


def account_removal(s: Session, mailbox_id: int, size: int, messages: int) -> None:
    """Give back `size` bytes and `messages` messages to a mailbox."""
    s.execute(_ACCOUNT_REMOVAL, {"mailbox_id": mailbox_id, "size": size, "messages": messages})


def release_domain_bytes(s: Session, mailbox_id: int, size: int) -> None:
    domain_id = select(Mailbox.domain_id).where(Mailbox.id == mailbox_id).scalar_subquery()
    s.execute(update(Domain).where(Domain.id == domain_id).values(used_bytes=Domain.used_bytes - size))


def _undo(
    db: Database, published: list[Path], pending: Iterable[maildirs.PendingMessage], reserved: list[int], size: int
) -> None:
    """Take back a delivery that failed half way: files, then the reserved bytes."""
    maildirs.remove_messages(published)
    _discard(pending)
    try:
        with db.session.begin() as s:
            for mailbox_id in reserved:
                account_removal(s, mailbox_id, size, 1)
                release_domain_bytes(s, mailbox_id, size)
    except SQLAlchemyError:
        log.exception("could not give back reserved quota; run `beaconmail quota recalc`")


def _discard(pending: Iterable[maildirs.PendingMessage]) -> None:
    for item in pending:
        maildirs.discard(item.tmp_path)
