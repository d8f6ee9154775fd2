"""Repair quota counters from what is actually on disk."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from shared.mail.addresses import parse_address
from shared.storage.db import Database
from shared.storage.lookups import mailbox_by_address
from shared.storage.maildirs import disk_usage
from shared.storage.models import Domain, Mailbox


@dataclass(frozen=True)
class QuotaRepair:
    address: str
    used_bytes_before: int
    used_bytes: int
    messages_before: int
    messages: int

    @property
    def changed(self) -> bool:
        return (self.used_bytes_before, self.messages_before) != (self.used_bytes, self.messages)


def recalc_quota(db: Database, address: str | None = None) -> list[QuotaRepair]:
    """Recount one mailbox (or all) from disk and set the counters, then each domain's total.

    The row is locked while its directory is counted. A delivery reserves its bytes just before
    its rename into new/, so a recount that falls in that instant counts the bytes but not the
    file; run it when the mailbox is quiet, or after a crash, which is what it is for.
    """
    with db.session.begin() as s:
        if address is None:
            ids = list(s.scalars(select(Mailbox.id).order_by(Mailbox.address)))
        else:
            ids = [mailbox_by_address(s, str(parse_address(address))).id]
    repairs = [_recount(db, mailbox_id) for mailbox_id in ids]
    _recount_domains(db)
    return repairs


def _recount(db: Database, mailbox_id: int) -> QuotaRepair:
    with db.session.begin() as s:
        mailbox = s.scalars(select(Mailbox).where(Mailbox.id == mailbox_id).with_for_update()).one()
        used, messages = disk_usage(db.settings.mail_root / mailbox.maildir)
        repair = QuotaRepair(mailbox.address, mailbox.used_bytes, used, mailbox.message_count, messages)
        mailbox.used_bytes, mailbox.message_count = used, messages
        return repair


def _recount_domains(db: Database) -> None:
    totals = select(func.coalesce(func.sum(Mailbox.used_bytes), 0)).where(Mailbox.domain_id == Domain.id)
    with db.session.begin() as s:
        s.execute(update(Domain).values(used_bytes=totals.scalar_subquery()))
