"""Local delivery: bytes into Maildirs, with quota accounted atomically.

Order per message: write + fsync each copy in tmp/; one transaction reserves the
bytes with conditional UPDATEs (mailbox quotas, then the domains' totals); then the
reserved copies are renamed into new/ and each directory fsynced. A crash leaves at
worst a counter above the disk (never a visible message that is not counted, never a
quota overrun), which `quota recalc` repairs.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Update, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared import store
from shared.db import Database
from shared.errors import TemporaryFailure
from shared.models import Domain, Mailbox

log = logging.getLogger(__name__)
_BARE_LF = re.compile(rb"(?<!\r)\n")


@dataclass(frozen=True)
class DeliveryReport:
    delivered: tuple[int, ...]
    over_quota: tuple[int, ...]


def to_crlf(message: bytes) -> bytes:
    """CRLF line ends throughout and at the end, so POP3 can stream the file as it is."""
    normalised = _BARE_LF.sub(b"\r\n", message)
    return normalised if normalised.endswith(b"\r\n") or not normalised else normalised + b"\r\n"


def with_return_path(message: bytes, return_path: str | None) -> bytes:
    if return_path is None:
        return message
    return b"Return-Path: <" + return_path.encode("utf-8") + b">\r\n" + message


def deliver(db: Database, message: bytes, mailbox_ids: Sequence[int], *, return_path: str | None = None) -> DeliveryReport:
    """Store one copy per mailbox; all or nothing on failure (TemporaryFailure)."""
    data = with_return_path(to_crlf(message), return_path)
    ids = sorted(set(mailbox_ids))
    pending: dict[int, store.PendingMessage] = {}
    try:
        maildirs = _maildirs(db, ids)
        for mailbox_id in ids:
            pending[mailbox_id] = store.write_pending(maildirs[mailbox_id], data)
        reserved = _reserve(db, ids, len(data))
    except (OSError, SQLAlchemyError) as exc:
        _discard(pending.values())
        log.error("delivery to %s failed before reservation: %s", ids, exc)
        raise TemporaryFailure("the message could not be stored") from exc
    published: list[Path] = []
    try:
        for mailbox_id in reserved:
            published.append(store.publish(pending[mailbox_id]))
    except OSError as exc:
        _undo(db, published, pending.values(), reserved, len(data))
        log.error("delivery to %s failed while publishing: %s", ids, exc)
        raise TemporaryFailure("the message could not be stored") from exc
    over_quota = tuple(i for i in ids if i not in reserved)
    _discard(pending[i] for i in over_quota)
    return DeliveryReport(tuple(reserved), over_quota)


def _maildirs(db: Database, ids: list[int]) -> dict[int, Path]:
    with db.session.begin() as s:
        rows = s.execute(select(Mailbox.id, Mailbox.maildir).where(Mailbox.id.in_(ids))).all()
    found = {mailbox_id: db.settings.mail_root / relative for mailbox_id, relative in rows}
    missing = set(ids) - set(found)
    if missing:
        raise TemporaryFailure(f"mailboxes vanished during delivery: {sorted(missing)}")
    return found


def _reserve(db: Database, ids: list[int], size: int) -> list[int]:
    """Account `size` bytes to every mailbox that has room (and whose domain has); one transaction.

    Rows are locked in one order, as POP3 deletes and mailbox removal do too: the mailboxes
    by id, then their domains by id. Interleaving them deadlocks against a concurrent delete.
    """
    with db.session.begin() as s:
        domain_of: dict[int, int] = {}
        for mailbox_id in sorted(ids):
            domain_id = _reserve_mailbox(s, mailbox_id, size)
            if domain_id is not None:
                domain_of[mailbox_id] = domain_id
        reserved: list[int] = []
        for mailbox_id in sorted(domain_of, key=lambda m: (domain_of[m], m)):
            if _reserve_domain(s, domain_of[mailbox_id], size):
                reserved.append(mailbox_id)
            else:
                s.execute(account_removal(mailbox_id, size, 1))
        return sorted(reserved)


def _reserve_mailbox(s: Session, mailbox_id: int, size: int) -> int | None:
    """Count the bytes in if the mailbox has room; its domain's id, or None."""
    return s.execute(
        update(Mailbox)
        .where(Mailbox.id == mailbox_id, (Mailbox.quota_bytes == 0) | (Mailbox.used_bytes + size <= Mailbox.quota_bytes))
        .values(used_bytes=Mailbox.used_bytes + size, message_count=Mailbox.message_count + 1)
        .returning(Mailbox.domain_id)
    ).scalar_one_or_none()


def _reserve_domain(s: Session, domain_id: int, size: int) -> bool:
    return bool(
        s.execute(
            update(Domain)
            .where(Domain.id == domain_id, (Domain.quota_bytes == 0) | (Domain.used_bytes + size <= Domain.quota_bytes))
            .values(used_bytes=Domain.used_bytes + size)
        ).rowcount
    )


def account_removal(mailbox_id: int, size: int, messages: int) -> Update:
    """The UPDATE that gives back `size` bytes and `messages` messages to a mailbox."""
    return (
        update(Mailbox)
        .where(Mailbox.id == mailbox_id)
        .values(used_bytes=Mailbox.used_bytes - size, message_count=Mailbox.message_count - messages)
    )


def release_domain_bytes(s: Session, mailbox_id: int, size: int) -> None:
    domain_id = select(Mailbox.domain_id).where(Mailbox.id == mailbox_id).scalar_subquery()
    s.execute(update(Domain).where(Domain.id == domain_id).values(used_bytes=Domain.used_bytes - size))


def _undo(
    db: Database, published: list[Path], pending: Iterable[store.PendingMessage], reserved: list[int], size: int
) -> None:
    store.remove_messages(published)
    _discard(pending)
    try:
        with db.session.begin() as s:
            for mailbox_id in reserved:
                s.execute(account_removal(mailbox_id, size, 1))
                release_domain_bytes(s, mailbox_id, size)
    except SQLAlchemyError:
        log.exception("could not give back reserved quota; run `beaconmail quota recalc`")


def _discard(pending: Iterable[store.PendingMessage]) -> None:
    for item in pending:
        store.discard(item.tmp_path)
