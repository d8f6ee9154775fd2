"""Local delivery: bytes into Maildirs, with quota accounted atomically.

Order per message: one transaction reserves the bytes (shared.mail.quota.reserve: mailbox
quotas, then the domains' totals); then each reserved copy is written + fsynced in tmp/,
and only when all are, renamed into new/ and each directory fsynced. A failure gives the
reservation back; a crash leaves at worst a counter above the disk (never a visible
message that is not counted, never a quota overrun), which `quota recalc` repairs.
"""
from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from shared.errors import N_, TemporaryFailure
from shared.mail import quota
from shared.mail.lineends import to_crlf
from shared.storage import maildirs
from shared.storage.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryReport:
    delivered: tuple[int, ...]
    over_quota: tuple[int, ...]


def with_return_path(message: bytes, return_path: str | None) -> bytes:
    if return_path is None:
        return message
    return b"Return-Path: <" + return_path.encode("utf-8") + b">\r\n" + message


def deliver(
    db: Database,
    message: bytes,
    mailbox_ids: Sequence[int],
    *,
    return_path: str | None = None,
    junk_ids: Collection[int] = (),
    then: quota.Reserved | None = None,
) -> DeliveryReport:
    """Store one copy per mailbox, in its Junk folder for those of `junk_ids`; all or nothing
    on failure (TemporaryFailure). `then` writes more in the reservation's transaction."""
    data = with_return_path(to_crlf(message), return_path)
    ids = sorted(set(mailbox_ids))
    try:
        reserved = quota.reserve(db, ids, len(data), then)
    except SQLAlchemyError as exc:
        log.error("delivery to %s failed while reserving quota: %s", ids, exc)
        raise TemporaryFailure(N_("the message could not be stored")) from exc
    pending: list[maildirs.PendingMessage] = []
    published: list[Path] = []
    try:
        for mailbox_id, maildir in reserved.items():
            folder = maildirs.junk_folder(maildir) if mailbox_id in junk_ids else maildir
            pending.append(maildirs.write_pending(f"{db.settings.mail_root}/{folder}", data))
        for item in pending:
            published.append(maildirs.publish(item))
    except OSError as exc:
        _undo(db, published, pending, list(reserved), len(data))
        log.error("delivery to %s failed while writing: %s", ids, exc)
        raise TemporaryFailure(N_("the message could not be stored")) from exc
    return DeliveryReport(tuple(reserved), tuple(i for i in ids if i not in reserved))


def _undo(
    db: Database, published: list[Path], pending: Iterable[maildirs.PendingMessage], reserved: list[int], size: int
) -> None:
    """Take back a delivery that failed half way: files, then the reserved bytes."""
    maildirs.remove_messages(published)
    _discard(pending)
    try:
        with db.session.begin() as s:
            for mailbox_id in reserved:
                quota.give_back(s, mailbox_id, size, 1)
    except SQLAlchemyError:
        log.exception("could not give back reserved quota; run `beaconmail quota recalc`")


def _discard(pending: Iterable[maildirs.PendingMessage]) -> None:
    for item in pending:
        maildirs.discard(item.tmp_path)
