"""Per-user submission rate, counted in the database so every smtp replica sees one count.

Counting is per clock hour: one row per (user, hour), opened or incremented by one INSERT
... ON CONFLICT DO UPDATE that only counts below the limit, so two replicas can never both
take the last slot, and the first messages of an hour cannot miss each other's row (the
conflict waits for the row a concurrent insert is committing). `submission_rate_per_hour`
of 0 means no limit. `take_submission` runs in a caller's raw transaction: the send API
counts in the transaction that keeps the message, with no commit of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from shared.storage import rawsql
from shared.storage.db import Database
from shared.storage.models import SubmissionWindow

WINDOW = timedelta(hours=1)
_TABLE = SubmissionWindow.metadata.tables[SubmissionWindow.__tablename__]


def _counting(insert: Any) -> rawsql.RawStatement:
    opened = insert(_TABLE).values(address=bindparam("address"), window_start=rawsql.stored_param("window"), count=1)
    return rawsql.RawStatement(
        opened.on_conflict_do_update(
            index_elements=[_TABLE.c.address, _TABLE.c.window_start],
            set_={"count": _TABLE.c["count"] + 1},
            where=_TABLE.c["count"] < bindparam("limit"),
        ).returning(_TABLE.c["count"])
    )


_COUNT = {"sqlite": _counting(sqlite.insert), "postgresql": _counting(postgresql.insert)}
_DROP_OLD = rawsql.RawStatement(
    delete(_TABLE).where(_TABLE.c.address == bindparam("address"), _TABLE.c.window_start < rawsql.stored_param("before"))
)


def _window_start(now: datetime) -> datetime:
    return now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def submission_allowed(db: Database, address: str, now: datetime | None = None) -> bool:
    """May `address` submit one more message in this hour? (read only; DATA consumes)"""
    limit = db.settings.submission_rate_per_hour
    if limit == 0:
        return True
    window = _window_start(now or datetime.now(timezone.utc))
    with db.session.begin() as s:
        used = s.scalar(
            select(SubmissionWindow.count).where(
                SubmissionWindow.address == address, SubmissionWindow.window_start == window
            )
        )
    return (used or 0) < limit


def consume_submission(db: Database, address: str, now: datetime | None = None) -> bool:
    """Count one message for `address`; False (and nothing counted) when the hour's limit is reached."""
    limit = db.settings.submission_rate_per_hour
    if limit == 0:
        return True
    with rawsql.cursor(db, transaction=True) as cursor:
        return take_submission(cursor, address, limit, now)


def take_submission(cursor: rawsql.RawCursor, address: str, limit: int, now: datetime | None = None) -> bool:
    """consume_submission in the caller's transaction, for a `limit` above 0."""
    window = _window_start(now or datetime.now(timezone.utc))
    params = {"address": address, "window": rawsql.stamp(cursor.dialect, window), "limit": limit}
    counted = _COUNT[cursor.dialect.name].execute(cursor, params).fetchone()
    if counted is None:
        return False
    if counted[0] == 1:  # the hour's first: the hours before it are of no use any more
        _DROP_OLD.execute(cursor, {"address": address, "before": rawsql.stamp(cursor.dialect, window - WINDOW)})
    return True
