"""`Idempotency-Key` of the send API: the same key from the same token within 24 hours gets
the first request's answer, and the message is sent once.

The key is claimed by inserting its row before anything is sent: of two requests that arrive
together, the unique constraint lets one through and the other sees the row (still without an
answer: Conflict, try again; with one: that answer). A request that fails gives its key back,
so a retry may send. The same key with a different request is refused, as a client bug.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.errors import N_, Conflict
from shared.mail.composition import FieldError
from shared.storage.db import Database
from shared.storage.models import IdempotentSend

KEPT = timedelta(hours=24)
MAX_KEY = 255
HEADER = "Idempotency-Key"
IN_PROGRESS = N_("a request with this Idempotency-Key is still being processed; try again shortly")


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
        raise FieldError(HEADER, N_("%(field)s: must be 1 to %(limit)d printable ASCII characters"), limit=MAX_KEY)
    return key


def claim(db: Database, token_id: int, key: str, request_hash: str) -> dict[str, Any] | None:
    """None: the key is ours now, send. A dict: the answer the first request got."""
    horizon = datetime.now(UTC) - KEPT
    for _attempt in range(2):  # a second time when the first request gave the key back meanwhile
        with db.session.begin() as s:
            # This key's own expired row only: the rest are the smtp worker's (purge_expired).
            s.execute(
                delete(IdempotentSend).where(
                    IdempotentSend.token_id == token_id, IdempotentSend.key == key, IdempotentSend.created_at < horizon
                )
            )
            try:
                with s.begin_nested():
                    s.add(IdempotentSend(token_id=token_id, key=key, request_hash=request_hash, answer=""))
                return None
            except IntegrityError:
                pass
            first = s.scalars(
                select(IdempotentSend).where(IdempotentSend.token_id == token_id, IdempotentSend.key == key)
            ).one_or_none()
        if first is not None:
            return _earlier_answer(first, request_hash)
    raise Conflict(IN_PROGRESS)


def _earlier_answer(first: IdempotentSend, request_hash: str) -> dict[str, Any]:
    if first.request_hash != request_hash:
        raise FieldError(HEADER, N_("%(field)s: was used with a different request; use a new key for a new message"))
    if not first.answer:
        raise Conflict(IN_PROGRESS)
    answer: dict[str, Any] = json.loads(first.answer)
    return answer


def keep_answer(s: Session, token_id: int, key: str, answer: dict[str, Any]) -> None:
    """In the transaction that finishes the send."""
    s.execute(
        update(IdempotentSend)
        .where(IdempotentSend.token_id == token_id, IdempotentSend.key == key)
        .values(answer=json.dumps(answer, separators=(",", ":")))
    )


def give_back(db: Database, token_id: int, key: str) -> None:
    with db.session.begin() as s:
        s.execute(delete(IdempotentSend).where(IdempotentSend.token_id == token_id, IdempotentSend.key == key))


def purge_expired(db: Database, now: datetime | None = None) -> int:
    """Delete the keys older than 24 hours (the smtp worker's sweep); returns how many."""
    horizon = (now or datetime.now(UTC)) - KEPT
    with db.session.begin() as s:
        removed = s.execute(delete(IdempotentSend).where(IdempotentSend.created_at < horizon))
    return int(removed.rowcount)  # type: ignore[attr-defined]
