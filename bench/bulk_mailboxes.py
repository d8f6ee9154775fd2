"""Many mailboxes fast, for the scale benchmarks.

shared.accounts.mailboxes.create_mailbox() costs one transaction with five statements, an audit row
and three mkdirs per mailbox (about 18 ms each on the bench machine: 100,000 take half an
hour), so this inserts rows in batches with the same column values create_mailbox() stores,
through shared's models and Database. Maildirs are not made: every reader and writer in
shared creates or tolerates a missing one. The search indexes follow by themselves (SQLite's by
the triggers of migration 0005). It stands in for the `shared` bulk function the
benchmark report proposes (shared.accounts.mailboxes.create_mailboxes(db, domain, rows, ...)).
"""
from __future__ import annotations

import time

from sqlalchemy import insert, select, text

from bench.beacon import DOMAIN, BeaconInstance, password_hash
from shared.storage.db import Database
from shared.storage.maildirs import maildir_relative_path
from shared.storage.models import Domain, Mailbox
from shared.storage.models.base import utcnow

BATCH = 5000
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Niklaus")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Wirth")


def display_name(number: int) -> str:
    """Varied names so a search by name matches a realistic share of rows (1 in 100 per pair)."""
    return f"{FIRST_NAMES[number % 10]} {LAST_NAMES[(number // 10) % 10]} {number}"


def _row(domain_id: int, number: int, stored_hash: str, now: object) -> dict[str, object]:
    local = f"user{number}"
    return {
        "domain_id": domain_id,
        "local": local,
        "address": f"{local}@{DOMAIN}",
        "password_hash": stored_hash,
        "name": display_name(number),
        "quota_bytes": 0,
        "used_bytes": 0,
        "message_count": 0,
        "active": True,
        "smtp_enabled": True,
        "pop3_enabled": True,
        "is_global_admin": False,
        "maildir": maildir_relative_path(DOMAIN, local),
        "created_at": now,
    }


def create_mailboxes(db: Database, start: int, count: int) -> float:
    """Mailboxes user<start>..user<start+count-1>@bench.test; returns the seconds it took."""
    began = time.perf_counter()
    stored_hash = password_hash()
    with db.session.begin() as s:
        domain_id = s.scalars(select(Domain.id).where(Domain.name == DOMAIN)).one()
    now = utcnow()
    for first in range(start, start + count, BATCH):
        rows = [_row(domain_id, n, stored_hash, now) for n in range(first, min(first + BATCH, start + count))]
        with db.session.begin() as s:
            s.execute(insert(Mailbox), rows)
    # Fresh planner statistics, as autovacuum would give soon after; on PostgreSQL its VACUUM also
    # moves the rows queued in the GIN indexes' pending lists into the indexes proper.
    if db.is_sqlite:
        with db.session.begin() as s:
            s.execute(text("ANALYZE mailbox"))
    else:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE mailbox"))
    return time.perf_counter() - began


def shared_create_rate(instance: BeaconInstance, start: int, count: int) -> float:
    """Mailboxes per second through shared's create_mailbox(), for the report."""
    began = time.perf_counter()
    instance.create_mailboxes(count, start)
    return count / (time.perf_counter() - began)
