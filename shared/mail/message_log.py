"""The message log: what became of every message we accepted or refused, per recipient.

One status model for SMTP and the API:
  queued     accepted for a remote recipient, waiting in the outbound queue
  delivered  stored in a hosted mailbox
  relayed    the next hop (the smarthost or the recipient's MX) answered 2xx
  deferred   the next hop answered 4xx or could not be reached; the queue tries again
  bounced    failed for good, and a bounce (DSN) went to the sender
  failed     failed for good, and no bounce could go (the null sender <>)
  refused    we answered 4xx/5xx at RCPT or DATA; `reply` is our answer

A recipient's state at acceptance is final, except `queued`: only the outbound queue changes
a state later. So the timeline stores only the changes (one event each), and its first entry,
the state at acceptance, is told from the recipient row (`accepted_event`): a message costs
one row and one per recipient.

Entries are written in the transaction that already stands behind the 250 (the quota
reservation of a local delivery, or the release of queued copies; shared.mail.mailflow), so
logging costs no commit of its own. Outcomes of the outbound worker and of the queue commands
all go through `record_outcome`, in the caller's transaction: the one place a change of a
recipient's state is made, logged on the service's log and (later) told to webhooks.
"""

from __future__ import annotations

import enum
import logging
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from shared.mail import webhooks
from shared.mail.completion import header_fields
from shared.storage import rawsql
from shared.storage.db import Database
from shared.storage.models import LogEvent, LoggedMessage, LoggedRecipient

log = logging.getLogger(__name__)

VIAS = ("mx", "submission", "api")
MAX_MESSAGE_ID = 500
MAX_ADDRESS = 320
MAX_REPLY = 1000
PURGE_BATCH = 1000


class Status(enum.Enum):
    QUEUED = "queued"
    DELIVERED = "delivered"
    RELAYED = "relayed"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    FAILED = "failed"
    REFUSED = "refused"


STATUSES = tuple(status.value for status in Status)
# A message's `status_bits`: every status its recipients have had (only ever added to: a
# search still checks the recipients, the bits only let it skip messages). Stored: fixed values.
STATUS_BITS = {
    Status.QUEUED: 1, Status.DELIVERED: 2, Status.RELAYED: 4, Status.DEFERRED: 8,
    Status.BOUNCED: 16, Status.FAILED: 32, Status.REFUSED: 64,
}  # fmt: skip


def status_bits(statuses: Iterable[Status]) -> int:
    bits = 0
    for status in statuses:
        bits |= STATUS_BITS[status]
    return bits


@dataclass(frozen=True)
class Origin:
    """How a message came: `via` (mx, submission, api), the client's address, the signed-in
    user ("" for none), the recipients refused at RCPT with our reply, and the tags an API
    sender gave (passed on to webhooks)."""

    via: str
    client_ip: str = ""
    user: str = ""
    refused: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.via not in VIAS:
            raise ValueError(f"unknown way in: {self.via}")


@dataclass(frozen=True)
class Outcome:
    address: str
    status: Status
    reply: str = ""
    relay: str = ""


@dataclass(frozen=True)
class Entry:
    """One message's record as it is first written."""

    log_id: str
    sender: str
    message_id: str
    size: int
    origin: Origin
    outcomes: tuple[Outcome, ...]
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def new_log_id(now: float | None = None) -> str:
    """Milliseconds since the epoch (12 hex digits), then 32 random bits: ids sort by time."""
    moment = time.time() if now is None else now
    return f"{int(moment * 1000):012x}{secrets.token_hex(4)}"


def id_floor(moment: datetime) -> str:
    """The smallest log id of a message logged at `moment` or later."""
    return f"{int(moment.timestamp() * 1000):012x}"


def header_message_id(message: bytes) -> str:
    """The Message-ID without its angle brackets ("" when there is none)."""
    value = header_fields(message).get("Message-ID", "")
    return " ".join(str(value).split()).strip("<>")[:MAX_MESSAGE_ID]


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


# -- writing an entry --------------------------------------------------------------------

_MESSAGE_TABLE = LoggedMessage.metadata.tables[LoggedMessage.__tablename__]
_RECIPIENT_TABLE = LoggedMessage.metadata.tables[LoggedRecipient.__tablename__]


_INSERT_MESSAGE = rawsql.RawStatement(insert(_MESSAGE_TABLE).values(rawsql.untyped_values(_MESSAGE_TABLE)))
_INSERT_RECIPIENT = rawsql.RawStatement(insert(_RECIPIENT_TABLE).values(rawsql.untyped_values(_RECIPIENT_TABLE)))
# PostgreSQL: the message and its recipients in one statement (one round trip), by recipient
# count; up to TOGETHER_MAX recipients (a statement takes at most 65,535 parameters, and each
# count is a statement of its own to keep).
TOGETHER_MAX = 16
_INSERT_TOGETHER: dict[int, rawsql.RawStatement] = {}


def _inserted_together(count: int) -> rawsql.RawStatement:
    if count not in _INSERT_TOGETHER:
        logged = insert(_MESSAGE_TABLE).values(rawsql.untyped_values(_MESSAGE_TABLE)).cte("logged")
        rows = [rawsql.untyped_values(_RECIPIENT_TABLE, f"_{n}") for n in range(count)]
        # It also says whether any webhook is active: when none is, the events cost no round trip.
        together = insert(_RECIPIENT_TABLE).values(rows).add_cte(logged).returning(webhooks.ANY_ACTIVE)
        _INSERT_TOGETHER[count] = rawsql.RawStatement(together)
    return _INSERT_TOGETHER[count]


def _rows(entry: Entry) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    message = {
        "id": entry.log_id,
        "message_id": entry.message_id,
        "sender": entry.sender.lower(),
        "sender_domain": domain_of(entry.sender) if entry.sender else "",
        "size": entry.size,
        "via": entry.origin.via,
        "client_ip": entry.origin.client_ip,
        "username": entry.origin.user,
        "created_at": entry.at,
        "status_bits": status_bits(outcome.status for outcome in entry.outcomes),
    }
    recipients = [
        {"log_id": entry.log_id, "address": outcome.address.lower(), "domain": domain_of(outcome.address),
         "status": outcome.status.value, "attempts": 0, "reply": outcome.reply[:MAX_REPLY], "updated_at": entry.at}
        for outcome in entry.outcomes
    ]
    return message, recipients


def write(cursor: rawsql.RawCursor, entry: Entry) -> None:
    """Write `entry` on a raw cursor, in the transaction of the caller (a delivery's reservation)."""
    message, recipients = _rows(entry)
    stamp = rawsql.stamp(cursor.dialect, entry.at)
    listened = True  # unless the statement below said otherwise
    if cursor.dialect.name == "postgresql" and 0 < len(recipients) <= TOGETHER_MAX:
        values = {f"{key}_{n}": value for n, row in enumerate(recipients) for key, value in row.items()}
        stamps = {f"updated_at_{n}": stamp for n in range(len(recipients))}
        together = _inserted_together(len(recipients)).execute(cursor, {**message, "created_at": stamp, **values, **stamps})
        listened = any(active for (active,) in together.fetchall())
    else:  # SQLite has no INSERT in WITH; its statements cost no round trip
        _INSERT_MESSAGE.execute(cursor, {**message, "created_at": stamp})
        _INSERT_RECIPIENT.execute_many(cursor, [{**row, "updated_at": stamp} for row in recipients])
    if listened:
        webhooks.queue_events(cursor, _events(entry), entry.at, source=entry.log_id)
    _tell(entry)


def add(s: Session, entry: Entry) -> None:
    """Write `entry` in the caller's session transaction (the release of queued copies)."""
    message, recipients = _rows(entry)
    s.execute(insert(LoggedMessage), [message])
    if recipients:
        s.execute(insert(LoggedRecipient), recipients)
    webhooks.queue_events(rawsql.of_session(s), _events(entry), entry.at, source=entry.log_id)
    _tell(entry)


def _events(entry: Entry) -> list[webhooks.Event]:
    """What webhooks hear of an accepted message: `message.received` once, for the recipients
    it was kept for, and `message.delivered` per mailbox that has it. Nothing for a refusal."""
    kept = [outcome for outcome in entry.outcomes if outcome.status is not Status.REFUSED]
    if not kept:
        return []
    common = {"id": entry.log_id, "message_id": entry.message_id, "from": entry.sender, "tags": list(entry.origin.tags)}
    delivered = [outcome.address for outcome in kept if outcome.status is Status.DELIVERED]
    return [
        ("message.received", common | {"recipients": [outcome.address for outcome in kept]}),
        *(("message.delivered", common | {"recipient": address, "status": "delivered"}) for address in delivered),
    ]


def refusal_entry(*, sender: str, message: bytes, origin: Origin, refused: Sequence[tuple[str, str]]) -> Entry:
    """The entry of a message (or a transaction without one) whose recipients were all refused."""
    return Entry(
        log_id=new_log_id(),
        sender=sender,
        message_id=header_message_id(message) if message else "",
        size=len(message),
        origin=origin,
        outcomes=tuple(Outcome(address, Status.REFUSED, reply) for address, reply in refused),
    )


def record_refusal(db: Database, entry: Entry) -> None:
    """A message refused at DATA, or recipients refused in a transaction that never reached it:
    written on its own, as no delivery's transaction stands behind it."""
    with db.session.begin() as s:
        add(s, entry)


def forget(db: Database, log_id: str) -> None:
    """Take back an entry whose message was not kept after all (the answer becomes 4xx), and
    the webhook events queued with it."""
    with db.session.begin() as s:
        s.execute(delete(LoggedMessage).where(LoggedMessage.id == log_id))
        webhooks.forget_events(s, log_id)


def _tell(entry: Entry) -> None:
    for outcome in entry.outcomes:
        log_line(entry.log_id, entry.sender, outcome)


def log_line(log_id: str, sender: str, outcome: Outcome) -> None:
    """One line per recipient outcome, the same in every service, for admins to grep."""
    log.info(
        "%s: from=<%s> to=<%s> status=%s relay=%s reply=%s",
        log_id, sender, outcome.address, outcome.status.value, outcome.relay or "none", outcome.reply or "-",
    )


def accepted_event(recipient: LoggedRecipient, changed: bool) -> Outcome:
    """What a recipient's timeline starts with: `queued` when later events `changed` it, else
    the state it still has (delivered, bounced by a full mailbox, refused) with its reply."""
    if changed:
        return Outcome(recipient.address, Status.QUEUED)
    local = recipient.status in (Status.DELIVERED.value, Status.BOUNCED.value)
    return Outcome(recipient.address, Status(recipient.status), recipient.reply, "local" if local else "")


# -- later outcomes ----------------------------------------------------------------------


def record_outcome(
    s: Session, *, log_id: str, sender: str, outcome: Outcome, attempts: int, at: datetime | None = None
) -> None:
    """A recipient's new state, in the caller's transaction: the recipient row, a timeline
    event and the service's log line. Every change after acceptance comes through here."""
    moment = at or datetime.now(timezone.utc)
    address, reply = outcome.address.lower(), outcome.reply[:MAX_REPLY]
    changed = s.execute(
        update(LoggedRecipient)
        .where(LoggedRecipient.log_id == log_id, LoggedRecipient.address == address)
        .values(status=outcome.status.value, attempts=attempts, reply=reply, updated_at=moment)
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        return  # the entry is gone (retention) or was never written (a generated message)
    s.add(LogEvent(log_id=log_id, address=address, status=outcome.status.value, reply=reply,
                   relay=outcome.relay, at=moment))
    s.execute(
        update(LoggedMessage)
        .where(LoggedMessage.id == log_id)
        .values(status_bits=LoggedMessage.status_bits.op("|")(STATUS_BITS[outcome.status]))
    )
    log_line(log_id, sender, outcome)
    event = f"message.{outcome.status.value}"
    if event in webhooks.EVENTS:
        payload = {"id": log_id, "from": sender, "recipient": address, "status": outcome.status.value,
                   "attempts": attempts, "relay": outcome.relay, "reply": reply}
        webhooks.queue_event(s, event, payload, now=moment)


# -- retention ---------------------------------------------------------------------------


def purge_expired(db: Database, *, days: int, now: datetime | None = None) -> int:
    """Delete entries older than `days`, a batch per transaction. On PostgreSQL the batch is
    claimed with SKIP LOCKED, so replicas running this at once share the work."""
    horizon = id_floor((now or datetime.now(timezone.utc)) - timedelta(days=days))
    removed = 0
    while True:
        with db.session.begin() as s:
            ids: Sequence[str] = s.scalars(
                select(LoggedMessage.id)
                .where(LoggedMessage.id < horizon)
                .order_by(LoggedMessage.id)
                .limit(PURGE_BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            if not ids:
                return removed
            # Children first: SQLite enforces the cascade only with foreign keys switched on.
            s.execute(delete(LogEvent).where(LogEvent.log_id.in_(ids)))
            s.execute(delete(LoggedRecipient).where(LoggedRecipient.log_id.in_(ids)))
            s.execute(delete(LoggedMessage).where(LoggedMessage.id.in_(ids)))
        removed += len(ids)
