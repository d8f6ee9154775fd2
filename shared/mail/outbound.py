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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared.errors import N_, TemporaryFailure
from shared.mail import message_log, suppressions
from shared.mail.dsn_requests import NO_MESSAGE_REQUEST, NOTHING_ASKED, Event, MessageRequest, RecipientRequest, Ret
from shared.storage import maildirs
from shared.storage.db import Database
from shared.storage.models import DeliveryStatus, OutboundMessage, OutboundRecipient
from shared.storage.times import as_utc

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
    request: RecipientRequest = NOTHING_ASKED


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
    log_id: str | None = None
    request: MessageRequest = NO_MESSAGE_REQUEST
    delay_notified: bool = False


@dataclass(frozen=True)
class Attempt:
    """What happened to one recipient: `sent`, or else `permanent` decides bounce or retry.
    `relay` is the host that answered, "" when none did; `dsn_passed_on`: it offered DSN and
    was given the sender's NOTIFY, ORCPT, RET and ENVID, so success reports are its to send."""

    recipient_id: int
    sent: bool
    permanent: bool
    reply: str
    relay: str = ""
    dsn_passed_on: bool = False


def queue_dir(db: Database) -> Path:
    return db.settings.mail_root / QUEUE_FOLDER


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def backoff(attempts: int, base: float) -> timedelta:
    """Delay before the next try after `attempts` failed ones: base, 2×base, 4×base, … up to 4 h."""
    return min(timedelta(seconds=base * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def enqueue(
    db: Database,
    message: bytes,
    *,
    sender: str,
    recipients: Sequence[str],
    held: bool = False,
    log_id: str | None = None,
    request: MessageRequest = NO_MESSAGE_REQUEST,
    recipient_requests: Mapping[str, RecipientRequest] | None = None,
) -> int:
    """Store the body durably, then the rows; returns the message id. Raises TemporaryFailure.
    `log_id`: the message log entry its recipients' outcomes are recorded in; `request` and
    `recipient_requests` (by address): what the sender asked for with DSN."""
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
                log_id=log_id,
                dsn_ret=request.ret.value if request.ret else None,
                dsn_envid=request.envid,
            )
            asked = recipient_requests or {}
            row.recipients = [
                _recipient(address, status, now, asked.get(address, NOTHING_ASKED)) for address in dict.fromkeys(recipients)
            ]
            s.add(row)
            s.flush()
            return row.id
    except SQLAlchemyError as exc:
        maildirs.remove_messages([path])
        raise TemporaryFailure(N_("the message could not be queued")) from exc


def _recipient(address: str, status: DeliveryStatus, now: datetime, request: RecipientRequest) -> OutboundRecipient:
    return OutboundRecipient(
        address=address,
        domain=address.rpartition("@")[2].lower(),
        status=status,
        attempts=0,
        next_attempt_at=now,
        dsn_notify=request.notify,
        dsn_orcpt=request.orcpt,
    )


def message_request(message: OutboundMessage) -> MessageRequest:
    return MessageRequest(Ret(message.dsn_ret) if message.dsn_ret else None, message.dsn_envid)


def recipient_request(recipient: OutboundRecipient) -> RecipientRequest:
    return RecipientRequest(recipient.dsn_notify, recipient.dsn_orcpt)


def release(db: Database, message_ids: Sequence[int], then: Callable[[Session], None] | None = None) -> None:
    """The transaction that queued HELD messages committed: workers may take them now.
    `then` writes more in the same transaction (the message log)."""
    with db.session.begin() as s:
        s.execute(
            update(OutboundRecipient)
            .where(OutboundRecipient.message_id.in_(message_ids), OutboundRecipient.status == DeliveryStatus.HELD)
            .values(status=DeliveryStatus.QUEUED)
        )
        if then is not None:
            then(s)


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
                arrival=as_utc(message.created_at),
                expires_at=as_utc(message.expires_at),
                claim_token=token,
                recipients=tuple(
                    ClaimedRecipient(r.id, r.address, r.attempts, recipient_request(r)) for r, _m in members
                ),
                log_id=message.log_id,
                request=message_request(message),
                delay_notified=message.delay_notified,
            )
        )
    return deliveries


def read_body(delivery: Delivery) -> bytes:
    try:
        return delivery.body_path.read_bytes()
    except OSError as exc:
        raise TemporaryFailure(N_("queued body %(name)s unreadable"), name=delivery.body_path.name) from exc


def take_delay_notice(db: Database, message_id: int) -> bool:
    """Mark the message's one delay notice as sent; False when another worker (a delivery to
    another domain of the same message) did first. Marked before it is sent: a crash then
    loses a notice, which only says that the message is still being retried."""
    with db.session.begin() as s:
        result = s.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message_id, OutboundMessage.delay_notified.is_(False))
            .values(delay_notified=True)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]


def is_final_failure(attempt: Attempt, delivery: Delivery, now: datetime) -> bool:
    return not attempt.sent and (attempt.permanent or now >= delivery.expires_at)


def is_hard_bounce(attempt: Attempt) -> bool:
    """A remote server refused the recipient for good: a 5xx from a host that answered (not our
    own refusal, such as a suppressed recipient held back, which names no host)."""
    return not attempt.sent and attempt.permanent and bool(attempt.relay) and attempt.reply.startswith("5")


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
    tries = row.attempts + 1
    if attempt.sent:
        row.status, status = DeliveryStatus.SENT, message_log.Status.RELAYED
    elif is_final_failure(attempt, delivery, now):
        # settle bounced it to the sender first, unless there is none to tell or NOTIFY said not to
        row.status = DeliveryStatus.FAILED
        status = _failed_status(delivery.sender, row)
        if is_hard_bounce(attempt):
            suppressions.suppress(
                s, sender=delivery.sender, address=row.address, reason=attempt.reply, days=db.settings.suppress_days, now=now
            )
    else:
        row.attempts, status = tries, message_log.Status.DEFERRED
        row.next_attempt_at = now + backoff(row.attempts, db.settings.queue_retry_base)
    outcome = message_log.Outcome(row.address, status, attempt.reply, attempt.relay)
    if delivery.log_id is None:  # a message the system wrote (a bounce): no entry, still a log line
        message_log.log_line(f"queue-{delivery.message_id}", delivery.sender, outcome)
    else:
        message_log.record_outcome(
            s, log_id=delivery.log_id, sender=delivery.sender, outcome=outcome, attempts=tries, at=now
        )


def _failed_status(sender: str, recipient: OutboundRecipient) -> message_log.Status:
    """BOUNCED when the failure is reported to a sender, FAILED when no one is told."""
    told = bool(sender) and recipient_request(recipient).asks_for(Event.FAILURE)
    return message_log.Status.BOUNCED if told else message_log.Status.FAILED


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


# -- the queue as admins see it (shared.accounts.message_tracking checks who may) -------------


@dataclass(frozen=True)
class Waiting:
    """A recipient still in the queue: its message log id, next try, tries so far, last reply."""

    log_id: str
    sender: str
    address: str
    attempts: int
    next_attempt_at: datetime
    last_reply: str


def waiting(s: Session, *, log_id: str | None = None, domains: Sequence[str] | None = None) -> list[Waiting]:
    """Queued recipients of logged messages, soonest first; `domains` limits them to messages
    from or to those domains (None: all)."""
    query = (
        select(OutboundMessage.log_id, OutboundMessage.sender, OutboundRecipient)
        .join(OutboundRecipient, OutboundRecipient.message_id == OutboundMessage.id)
        .where(OutboundMessage.log_id.is_not(None), OutboundRecipient.status == DeliveryStatus.QUEUED)
        .order_by(OutboundRecipient.next_attempt_at, OutboundRecipient.id)
    )
    if log_id is not None:
        query = query.where(OutboundMessage.log_id == log_id)
    rows = [
        Waiting(str(log), sender, r.address, r.attempts, as_utc(r.next_attempt_at), r.last_reply)
        for log, sender, r in s.execute(query)
    ]
    if domains is None:
        return rows
    wanted = set(domains)
    return [w for w in rows if w.sender.rpartition("@")[2].lower() in wanted or w.address.rpartition("@")[2].lower() in wanted]


def retry_now(s: Session, log_id: str) -> int:
    """Make the queued recipients of `log_id` due at once; how many."""
    result = s.execute(
        update(OutboundRecipient)
        .where(
            OutboundRecipient.status == DeliveryStatus.QUEUED,
            OutboundRecipient.message_id.in_(select(OutboundMessage.id).where(OutboundMessage.log_id == log_id)),
        )
        .values(next_attempt_at=now_utc())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class GivenUp:
    """The recipients of one queued message an admin gave up on, for the bounce; `settled`:
    the message left the queue, so its body goes once the bounce is written."""

    sender: str
    addresses: tuple[str, ...]
    body_path: Path
    arrival: datetime
    settled: bool
    request: MessageRequest = NO_MESSAGE_REQUEST
    recipient_requests: tuple[RecipientRequest, ...] = ()  # one per address


def give_up(s: Session, db: Database, log_id: str, reply: str) -> list[GivenUp]:
    """Fail the queued recipients of `log_id` that no worker holds now, recording each outcome."""
    now = now_utc()
    unclaimed = or_(OutboundRecipient.claimed_until.is_(None), OutboundRecipient.claimed_until < now)
    rows = s.execute(
        select(OutboundRecipient, OutboundMessage)
        .join(OutboundMessage, OutboundMessage.id == OutboundRecipient.message_id)
        .where(OutboundMessage.log_id == log_id, OutboundRecipient.status == DeliveryStatus.QUEUED, unclaimed)
        .order_by(OutboundRecipient.id)
        .with_for_update(skip_locked=True)
    ).all()
    by_message: dict[int, tuple[OutboundMessage, list[OutboundRecipient]]] = {}
    for recipient, message in rows:
        recipient.status, recipient.last_reply = DeliveryStatus.FAILED, reply
        status = _failed_status(message.sender, recipient)
        outcome = message_log.Outcome(recipient.address, status, reply)
        message_log.record_outcome(
            s, log_id=log_id, sender=message.sender, outcome=outcome, attempts=recipient.attempts, at=now
        )
        by_message.setdefault(message.id, (message, []))[1].append(recipient)
    s.flush()
    given_up = []
    for message_id, (message, recipients) in by_message.items():
        settled = _is_settled(s, message_id)
        given_up.append(
            GivenUp(
                message.sender,
                tuple(r.address for r in recipients),
                queue_dir(db) / message.body_path,
                as_utc(message.created_at),
                settled,
                message_request(message),
                tuple(recipient_request(r) for r in recipients),
            )
        )
        if settled:
            s.execute(delete(OutboundMessage).where(OutboundMessage.id == message_id))
    return given_up
