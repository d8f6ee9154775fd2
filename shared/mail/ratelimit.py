"""Per-user submission rate, counted in the database so every smtp replica sees one count.

Counting is per clock hour: one row per (user, hour) incremented with a conditional
UPDATE, so two replicas can never both take the last slot. `submission_rate_per_hour`
of 0 means no limit.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from shared.storage.db import Database
from shared.storage.models import SubmissionWindow

WINDOW = timedelta(hours=1)


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
    window = _window_start(now or datetime.now(timezone.utc))
    for _attempt in range(2):
        with db.session.begin() as s:
            taken = s.execute(
                update(SubmissionWindow)
                .where(
                    SubmissionWindow.address == address,
                    SubmissionWindow.window_start == window,
                    SubmissionWindow.count < limit,
                )
                .values(count=SubmissionWindow.count + 1)
                .returning(SubmissionWindow.count)
            ).scalar_one_or_none()
            if taken is not None:
                return True
            opened = s.get(SubmissionWindow, (address, window))
            if opened is not None:
                if opened.count >= limit:
                    return False
                # Committed by another replica after our UPDATE looked (READ COMMITTED): count against it.
                continue
            try:
                with s.begin_nested():
                    s.add(SubmissionWindow(address=address, window_start=window, count=1))
            except IntegrityError:
                continue  # another replica opened this hour first: count against its row
            s.execute(
                delete(SubmissionWindow).where(
                    SubmissionWindow.address == address, SubmissionWindow.window_start < window - WINDOW
                )
            )
            return True
    return False
