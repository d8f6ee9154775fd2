"""The outbound queue: enqueue durably, claim across replicas, retry with backoff.

A message's body is written and fsynced into a Maildir-shaped folder under the mail root
(every replica shares it) before its rows are committed. Rows start HELD when the SMTP
transaction that queues them may still fail, and become QUEUED on `release`; workers
claim due QUEUED rows with `SELECT … FOR UPDATE SKIP LOCKED` (SQLite serialises writers
with BEGIN IMMEDIATE instead) and a lease, so a crashed worker's claim expires and
another replica takes over. When every recipient of a message is settled, the message
and its body are removed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared.errors import N_, TemporaryFailure
from shared.storage import maildirs
from shared.storage.db import Database
from shared.storage.models import DeliveryStatus, OutboundMessage, OutboundRecipient

log = logging.getLogger(__name__)

QUEUE_FOLDER = ".outbound"  # domain names never start with a dot, so no Maildir clashes
MAX_BACKOFF = timedelta(hours=4)
HELD_ORPHAN_AGE = timedelta(hours=1)
SETTLED = (DeliveryStatus.SENT, DeliveryStatus.FAILED)


@dataclass(frozen=True)
class ClaimedRecipient:
    id: int
    address: str
    attempts: int


@dataclass(frozen=True)
class Delivery:
    """Recipients of one message in one destination domain, claimed by one worker."""

    message_id: int
    sender: str
    body_path: Path
    domain: str
    arrival: datetime
    expires_at: datetime
    claim_token: str
    recipients: tuple[ClaimedRecipient, ...]


@dataclass(frozen=True)
class Attempt:
    """What happened to one recipient: `sent`, or else `permanent` decides bounce or retry."""

    recipient_id: int
    sent: bool
    permanent: bool
    reply: str


def queue_dir(db: Database) -> Path:
    return db.settings.mail_root / QUEUE_FOLDER


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def backoff(attempts: int, base: float) -> timedelta:
    """Delay before the next try after `attempts` failed ones: base, 2×base, 4×base, … up to 4 h."""
    return min(timedelta(seconds=base * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def enqueue(db: Database, message: bytes, *, sender: str, recipients: Sequence[str], held: bool = False) -> int:
    """Store the body durably, then the rows; returns the message id. Raises TemporaryFailure."""
    folder = queue_dir(db)
    try:
        path = maildirs.publish(maildirs.write_pending(folder, message))
    except OSError as exc:
        raise TemporaryFailure(N_("the message could not be queued")) from exc
    status = DeliveryStatus.HELD if held else DeliveryStatus.QUEUED
    now = now_utc()
    try:
        with db.session.begin() as s:
            row = OutboundMessage(
                sender=sender,
                body_path=str(path.relative_to(folder)),
                size=len(message),
                expires_at=now + timedelta(seconds=db.settings.queue_lifetime),
            )
            row.recipients = [_recipient(address, status, now) for address in dict.fromkeys(recipients)]
            s.add(row)
            s.flush()
            return row.id
    except SQLAlchemyError as exc:
        maildirs.remove_messages([path])
        raise TemporaryFailure(N_("the message could not be queued")) from exc


def _recipient(address: str, status: DeliveryStatus, now: datetime) -> OutboundRecipient:
    return OutboundRecipient(
        address=address, domain=address.rpartition("@")[2].lower(), status=status, attempts=0, next_attempt_at=now
    )


def release(db: Database, message_id: int) -> None:
    """The transaction that queued a HELD message committed: workers may take it now."""
    with db.session.begin() as s:
        s.execute(
            update(OutboundRecipient)
            .where(OutboundRecipient.message_id == message_id, OutboundRecipient.status == DeliveryStatus.HELD)
            .values(status=DeliveryStatus.QUEUED)
        )


def cancel(db: Database, message_id: int) -> None:
    """Forget a HELD message whose SMTP transaction failed."""
    with db.session.begin() as s:
        row = s.get(OutboundMessage, message_id)
        body = queue_dir(db) / row.body_path if row is not None else None
        s.execute(delete(OutboundMessage).where(OutboundMessage.id == message_id))
    if body is not None:
        maildirs.remove_messages([body])


def claim(db: Database, *, limit: int, lease: timedelta) -> list[Delivery]:
    """Take up to `limit` due recipients for this worker, grouped by message and domain."""
    token, now = secrets.token_hex(16), now_utc()
    unclaimed = or_(OutboundRecipient.claimed_until.is_(None), OutboundRecipient.claimed_until < now)
    with db.session.begin() as s:
        due = (
            select(OutboundRecipient.id)
            .where(
                OutboundRecipient.status == DeliveryStatus.QUEUED, OutboundRecipient.next_attempt_at <= now, unclaimed
            )
            .order_by(OutboundRecipient.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(s.scalars(due))
        if not ids:
            return []
        s.execute(
            update(OutboundRecipient)
            .where(OutboundRecipient.id.in_(ids), unclaimed)
            .values(claim_token=token, claimed_until=now + lease)
        )
        rows = s.execute(
            select(OutboundRecipient, OutboundMessage)
            .join(OutboundMessage, OutboundMessage.id == OutboundRecipient.message_id)
            .where(OutboundRecipient.claim_token == token)
            .order_by(OutboundRecipient.id)
        ).all()
    return _group(db, token, rows)


def _group(db: Database, token: str, rows: Sequence[tuple[OutboundRecipient, OutboundMessage]]) -> list[Delivery]:
    groups: dict[tuple[int, str], list[tuple[OutboundRecipient, OutboundMessage]]] = {}
    for recipient, message in rows:
        groups.setdefault((message.id, recipient.domain), []).append((recipient, message))
    deliveries = []
    for (message_id, domain), members in groups.items():
        message = members[0][1]
        deliveries.append(
            Delivery(
                message_id=message_id,
                sender=message.sender,
                body_path=queue_dir(db) / message.body_path,
                domain=domain,
                arrival=_aware(message.created_at),
                expires_at=_aware(message.expires_at),
                claim_token=token,
                recipients=tuple(ClaimedRecipient(r.id, r.address, r.attempts) for r, _m in members),
            )
        )
    return deliveries


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def read_body(delivery: Delivery) -> bytes:
    try:
        return delivery.body_path.read_bytes()
    except OSError as exc:
        raise TemporaryFailure(N_("queued body %(name)s unreadable"), name=delivery.body_path.name) from exc


def is_final_failure(attempt: Attempt, delivery: Delivery, now: datetime) -> bool:
    return not attempt.sent and (attempt.permanent or now >= delivery.expires_at)


def record(db: Database, delivery: Delivery, attempts: Sequence[Attempt]) -> None:
    """Store the outcome of one try for the recipients this worker still holds; drop settled messages."""
    now = now_utc()
    with db.session.begin() as s:
        for attempt in attempts:
            _record_one(s, db, delivery, attempt, now)
        s.flush()
        finished = _is_settled(s, delivery.message_id)
        if finished:
            s.execute(delete(OutboundMessage).where(OutboundMessage.id == delivery.message_id))
    if finished:
        maildirs.remove_messages([delivery.body_path])


def _record_one(s: Session, db: Database, delivery: Delivery, attempt: Attempt, now: datetime) -> None:
    row = s.get(OutboundRecipient, attempt.recipient_id)
    if row is None or row.claim_token != delivery.claim_token:
        log.warning("lease on recipient %s was lost; another worker owns it", attempt.recipient_id)
        return
    row.claim_token, row.claimed_until, row.last_reply = None, None, attempt.reply[:1000]
    if attempt.sent:
        row.status = DeliveryStatus.SENT
    elif is_final_failure(attempt, delivery, now):
        row.status = DeliveryStatus.FAILED
    else:
        row.attempts += 1
        row.next_attempt_at = now + backoff(row.attempts, db.settings.queue_retry_base)


def _is_settled(s: Session, message_id: int) -> bool:
    pending = s.scalar(
        select(OutboundRecipient.id)
        .where(OutboundRecipient.message_id == message_id, OutboundRecipient.status.not_in(SETTLED))
        .limit(1)
    )
    return pending is None


def purge_orphans(db: Database) -> int:
    """Remove HELD messages left by a process that died mid-transaction (never acknowledged)."""
    horizon = now_utc() - HELD_ORPHAN_AGE
    with db.session.begin() as s:
        orphans = s.execute(
            select(OutboundMessage.id, OutboundMessage.body_path)
            .join(OutboundRecipient, OutboundRecipient.message_id == OutboundMessage.id)
            .where(OutboundRecipient.status == DeliveryStatus.HELD, OutboundMessage.created_at < horizon)
            .distinct()
        ).all()
        if orphans:
            s.execute(delete(OutboundMessage).where(OutboundMessage.id.in_([o.id for o in orphans])))
    maildirs.remove_messages([queue_dir(db) / o.body_path for o in orphans])
    return len(orphans)
