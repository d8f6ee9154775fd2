"""The quota rule, in one place: who has room, reserving bytes for a delivery, giving them
back, a mailbox quota's limit within its domain, and repairing counters from the disk.

A quota of 0 means unlimited, for mailboxes and domains alike. Bytes are reserved before a
message is written and given back when it is removed (or its delivery fails), so a counter
is never below what is on disk; `recalc_quota` repairs the other direction after a crash.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, bindparam, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.config import format_size
from shared.errors import N_, InvalidValue, LimitExceeded, TemporaryFailure
from shared.mail.addresses import parse_address
from shared.storage import rawsql
from shared.storage.db import Database
from shared.storage.lookups import mailbox_by_address
from shared.storage.maildirs import disk_usage
from shared.storage.models import Domain, ImapUsage, Mailbox
from shared.storage.rawsql import RawStatement

# -- room ------------------------------------------------------------------------------


def has_room(quota_bytes: int, used_bytes: int, size: int) -> bool:
    """Room for `size` more bytes."""
    return quota_bytes == 0 or used_bytes + size <= quota_bytes


def has_spare_room(quota_bytes: int, used_bytes: int, size: int) -> bool:
    """Room for `size` more bytes with a tenth of the quota to spare. Used bytes kept in a
    cache may be some seconds old: only a mailbox this far from full is answered from them,
    so a RCPT to a mailbox that filled up meanwhile still gets its 452 from fresh figures."""
    return quota_bytes == 0 or (used_bytes + size) * 10 <= quota_bytes * 9


def check_mailbox_quota(quota_bytes: int, domain: Domain) -> None:
    """A mailbox quota must be a count of bytes within its domain's total (when it has one)."""
    if quota_bytes < 0:
        raise InvalidValue(N_("the quota must not be negative"))
    if domain.quota_bytes and quota_bytes > domain.quota_bytes:
        raise LimitExceeded(N_("the quota must not exceed the domain's total of %(total)s"), total=format_size(domain.quota_bytes))


# -- reserving and giving back ---------------------------------------------------------

# The tables behind the models, typed as tables (`Model.__table__` is typed as any FromClause).
_MAILBOX_TABLE = Mailbox.metadata.tables[Mailbox.__tablename__]
_DOMAIN_TABLE = Domain.metadata.tables[Domain.__tablename__]
_IMAP_USAGE_TABLE = ImapUsage.metadata.tables[ImapUsage.__tablename__]


def _room_for_size(table: Table) -> ColumnElement[bool]:
    """has_room in SQL, for the bind parameter `size`."""
    return (table.c.quota_bytes == 0) | (table.c.used_bytes + bindparam("size") <= table.c.quota_bytes)


# Delivery runs these for every message, so they are built once and run on the DBAPI cursor
# (see shared.storage.rawsql): SQLAlchemy's execution machinery cost more CPU than the database did.
_MAILBOX_RESERVATION = (
    update(_MAILBOX_TABLE)
    .where(_MAILBOX_TABLE.c.id == bindparam("mailbox_id"), _room_for_size(_MAILBOX_TABLE))
    .values(used_bytes=_MAILBOX_TABLE.c.used_bytes + bindparam("size"), message_count=_MAILBOX_TABLE.c.message_count + 1)
    .returning(_MAILBOX_TABLE.c.domain_id, _MAILBOX_TABLE.c.maildir)
)
_DOMAIN_RESERVATION = (
    update(_DOMAIN_TABLE)
    .where(_room_for_size(_DOMAIN_TABLE))
    .values(used_bytes=_DOMAIN_TABLE.c.used_bytes + bindparam("size"))
)
_MAILBOX_GIVE_BACK = (
    update(_MAILBOX_TABLE)
    .where(_MAILBOX_TABLE.c.id == bindparam("mailbox_id"))
    .values(
        used_bytes=_MAILBOX_TABLE.c.used_bytes - bindparam("size"),
        message_count=_MAILBOX_TABLE.c.message_count - bindparam("messages"),
    )
)
_RESERVE_MAILBOX = RawStatement(_MAILBOX_RESERVATION)
_RESERVE_DOMAIN = RawStatement(_DOMAIN_RESERVATION.where(_DOMAIN_TABLE.c.id == bindparam("domain_id")))
_GIVE_BACK_MAILBOX = RawStatement(_MAILBOX_GIVE_BACK)
_MAILBOX_EXISTS = RawStatement(select(_MAILBOX_TABLE.c.id).where(_MAILBOX_TABLE.c.id == bindparam("mailbox_id")))


def _reserve_one_statement() -> RawStatement:
    """PostgreSQL, one mailbox: both UPDATEs in one statement that commits on its own (one round
    trip instead of BEGIN, two UPDATEs and COMMIT). The domain's reads the mailbox's RETURNING,
    so the mailbox row is locked first, the same order as reserve's. SQLite has no UPDATE in WITH."""
    reserved_mailbox = _MAILBOX_RESERVATION.cte("reserved_mailbox")
    reserved_domain = (
        _DOMAIN_RESERVATION.where(_DOMAIN_TABLE.c.id == select(reserved_mailbox.c.domain_id).scalar_subquery())
        .returning(_DOMAIN_TABLE.c.id)
        .cte("reserved_domain")
    )
    return RawStatement(select(reserved_mailbox.c.maildir, exists(select(reserved_domain.c.id)).label("domain_reserved")))


_RESERVE_MAILBOX_AND_DOMAIN = _reserve_one_statement()


Reserved = Callable[[rawsql.RawCursor, dict[int, str]], None]


def reserve(db: Database, ids: list[int], size: int, then: Reserved | None = None) -> dict[int, str]:
    """Account `size` bytes to every mailbox of `ids` (sorted) that has room and whose domain
    has, in one transaction; the maildirs of those mailboxes, by id. Reserving before writing
    means a full mailbox costs no disk I/O, and the maildir comes with the reservation.
    `then` is given the reservation to write more in the same transaction (the message log).

    Rows are locked in one order, as POP3 deletes and mailbox removal do too: the mailboxes
    by id, then their domains by id. Interleaving them deadlocks against a concurrent delete.
    """
    if len(ids) == 1 and not db.is_sqlite:
        return _reserve_one(db, ids[0], size, then)
    with rawsql.cursor(db, transaction=True) as cursor:
        reserved = _reserve_each(cursor, ids, size)
        if then is not None:
            then(cursor, reserved)
        return reserved


def _reserve_each(cursor: rawsql.RawCursor, ids: list[int], size: int) -> dict[int, str]:
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


def _reserve_one(db: Database, mailbox_id: int, size: int, then: Reserved | None) -> dict[int, str]:
    """reserve for one mailbox on PostgreSQL, in one statement (in a transaction only when
    `then` writes more)."""
    with rawsql.cursor(db, transaction=then is not None) as cursor:
        reserved = _reserve_in_one_statement(cursor, mailbox_id, size)
        if then is not None:
            then(cursor, reserved)
        return reserved


def _reserve_in_one_statement(cursor: rawsql.RawCursor, mailbox_id: int, size: int) -> dict[int, str]:
    row = _RESERVE_MAILBOX_AND_DOMAIN.execute(cursor, {"mailbox_id": mailbox_id, "size": size}).fetchone()
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
        raise TemporaryFailure(N_("mailbox %(id)s vanished during delivery"), id=mailbox_id)


def _give_back_one(cursor: rawsql.RawCursor, mailbox_id: int, size: int) -> None:
    _GIVE_BACK_MAILBOX.execute(cursor, {"mailbox_id": mailbox_id, "size": size, "messages": 1})


def give_back(s: Session, mailbox_id: int, size: int, messages: int) -> None:
    """Give back `size` bytes and `messages` messages to a mailbox and `size` bytes to its domain
    (messages removed, or a reservation undone), locking in reserve's order."""
    s.execute(_MAILBOX_GIVE_BACK, {"mailbox_id": mailbox_id, "size": size, "messages": messages})
    give_back_to_domain(s, mailbox_id, size)


def give_back_to_domain(s: Session, mailbox_id: int, size: int) -> None:
    """Give back `size` bytes to the domain of a mailbox (the mailbox is about to go)."""
    domain_id = select(Mailbox.domain_id).where(Mailbox.id == mailbox_id).scalar_subquery()
    s.execute(update(Domain).where(Domain.id == domain_id).values(used_bytes=Domain.used_bytes - size))


# -- repair ----------------------------------------------------------------------------


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


# -- after an IMAP change ----------------------------------------------------------------


def recount_after_imap(db: Database, address: str) -> bool:
    """Count the mailbox's folders on disk and write the totals where Dovecot's quota_clone
    writes its own (`imap_usage`, whose triggers make them the counters and move the domain's
    total by the difference): a total, never a difference, so nothing POP3 or SMTP counted
    already is counted twice. False when no mailbox has the address.

    Rows are locked in the order of Dovecot's dict (its upsert takes the `imap_usage` row, its
    trigger then the mailbox's, then the domain's), so the two cannot deadlock. The mailbox's
    is taken before the count (SQLite: the write lock), so a POP3 delete, which removes its
    files and gives their bytes back under it, falls wholly before or after the count. A
    delivery reserves its bytes before it writes its file, so a count in between leaves the
    counters one message short until the next change (recalc_quota's caveat, and quota_clone's)."""
    with db.session.begin() as s:
        s.execute(_claim_imap_usage(db), {"address": address})
        mailbox = s.scalars(select(Mailbox).where(Mailbox.address == address).with_for_update()).one_or_none()
        if mailbox is None:
            return False
        used, messages = disk_usage(db.settings.mail_root / mailbox.maildir)
        s.execute(update(ImapUsage).where(ImapUsage.address == address).values(used_bytes=used, messages=messages))
        return True


def _claim_imap_usage(db: Database) -> sqlite.Insert | postgresql.Insert:
    """Lock the mailbox's `imap_usage` row, first making it from the counters as they are
    (its trigger then changes nothing): an upsert that only rewrites the address, which no
    trigger watches."""
    insert = sqlite.insert(_IMAP_USAGE_TABLE) if db.is_sqlite else postgresql.insert(_IMAP_USAGE_TABLE)
    current = select(Mailbox.address, Mailbox.used_bytes, Mailbox.message_count).where(
        Mailbox.address == bindparam("address")
    )
    claim = insert.from_select(["address", "used_bytes", "messages"], current)
    return claim.on_conflict_do_update(index_elements=["address"], set_={"address": claim.excluded.address})
