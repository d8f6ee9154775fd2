"""Who may see the message log and act on the queue: search, a message's timeline, the
queue's waiting recipients, retry now, give up and bounce.

A global admin sees every message; a domain manager only messages from or to their domains
(the sender's domain, or any recipient's). Anything else answers NotFound with the same text
as an id that does not exist, so guessing ids tells nothing.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ARRAY, ColumnElement, Select, String, any_, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from shared.accounts import audit
from shared.accounts.permissions import require_manager, require_write
from shared.accounts.views import Actor
from shared.errors import N_, InvalidValue, NotFound
from shared.mail import mailflow, message_log, outbound
from shared.mail.addresses import domain_forms
from shared.mail.outbound import Waiting
from shared.storage.db import Database
from shared.storage.models import LogEvent, LoggedMessage, LoggedRecipient
from shared.storage.models.message_log import LOG_ID_LENGTH

MAX_PAGE = 200
LOG_ID = re.compile(f"[0-9a-f]{{{LOG_ID_LENGTH}}}")
GIVEN_UP_REPLY = "554 5.0.0 delivery given up by an administrator"


@dataclass(frozen=True)
class LogFilters:
    sender: str | None = None
    recipient: str | None = None
    message_id: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class EventView:
    address: str
    status: str
    reply: str
    relay: str
    at: datetime


@dataclass(frozen=True)
class RecipientView:
    address: str
    status: str
    attempts: int
    reply: str
    updated_at: datetime


@dataclass(frozen=True)
class LoggedMessageView:
    id: str
    message_id: str
    sender: str
    size: int
    via: str
    client_ip: str
    user: str
    created_at: datetime
    recipients: tuple[RecipientView, ...]
    events: tuple[EventView, ...] = ()  # the timeline, oldest first (a single message only)


@dataclass(frozen=True)
class LogPage:
    items: tuple[LoggedMessageView, ...]
    next_cursor: str | None  # pass it as `cursor` for the next (older) page


def check_log_id(text: str) -> str:
    if not LOG_ID.fullmatch(text):
        raise InvalidValue(N_("a message log id is 20 hexadecimal digits"))
    return text


def _plain(text: str | None, what: str, limit: int) -> str | None:
    """A search term as it is stored (lower-case addresses), refused when no row could hold it."""
    if text is None or text == "":
        return None
    if "\x00" in text or len(text) > limit:
        raise InvalidValue(N_("the %(field)s is not one that could be logged"), field=what)
    return text.strip()


def _domain_forms(domains: Sequence[str]) -> list[str]:
    return sorted(set().union(*(domain_forms(domain) for domain in domains)))


def _address_forms(address: str) -> list[str]:
    """An address searched for, with or without its angle brackets (`<>`: the null sender)."""
    local, at, domain = address.strip().lower().removeprefix("<").removesuffix(">").rpartition("@")
    if not at:
        return [domain]
    return [f"{local}@{form}" for form in _domain_forms([domain])]


def _conditions(filters: LogFilters, domains: Sequence[str] | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    sender = _plain(filters.sender, "sender", message_log.MAX_ADDRESS)
    recipient = _plain(filters.recipient, "recipient", message_log.MAX_ADDRESS)
    message_id = _plain(filters.message_id, "Message-ID", message_log.MAX_MESSAGE_ID)
    if filters.status is not None and filters.status not in message_log.STATUSES:
        raise InvalidValue(N_("the status must be one of %(statuses)s"), statuses=", ".join(message_log.STATUSES))
    if sender is not None:
        conditions.append(LoggedMessage.sender.in_(_address_forms(sender)))
    if message_id is not None:
        conditions.append(LoggedMessage.message_id == message_id.strip("<>"))
    if filters.since is not None:
        conditions.append(LoggedMessage.id >= message_log.id_floor(filters.since))
    if filters.until is not None:
        conditions.append(LoggedMessage.id < message_log.id_floor(filters.until + timedelta(milliseconds=1)))
    if recipient is not None or filters.status is not None:
        match = select(LoggedRecipient.id).where(LoggedRecipient.log_id == LoggedMessage.id)
        if recipient is not None:
            match = match.where(LoggedRecipient.address.in_(_address_forms(recipient)))
        if filters.status is not None:
            match = match.where(LoggedRecipient.status == filters.status)
        conditions.append(exists(match))
    if domains is not None:
        conditions.append(_visible(domains))
    return conditions


def _visible(domains: Sequence[str]) -> ColumnElement[bool]:
    """From or to one of `domains`."""
    forms = _domain_forms(domains)
    to_domain = select(LoggedRecipient.id).where(LoggedRecipient.log_id == LoggedMessage.id, LoggedRecipient.domain.in_(forms))
    return or_(LoggedMessage.sender_domain.in_(forms), exists(to_domain))


def search_messages(
    db: Database, *, actor: Actor, filters: LogFilters, cursor: str | None = None, limit: int = 50
) -> LogPage:
    """Newest first, `limit` at a time; `cursor` is the `next_cursor` of the page before. A page
    that looked at MAX_SCANNED candidates ends early, maybe short, with a cursor to go on from."""
    require_manager(actor.scope)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidValue(N_("the page size must be 1 to %(count)d"), count=MAX_PAGE)
    domains = actor.scope.domain_filter()
    conditions = _conditions(filters, domains)  # checks every term before any stream is built
    streams, in_scope = _streams(filters, domains)
    if in_scope:  # the manager's own streams yield only messages they may see: no second check
        conditions = _conditions(filters, None)
    below = check_log_id(cursor) if cursor else None
    if filters.until is not None:
        ceiling = message_log.id_floor(filters.until + timedelta(milliseconds=1))
        below = min(below, ceiling) if below else ceiling
    at_least = message_log.id_floor(filters.since) if filters.since is not None else ""
    with db.read_session.begin() as s:
        scan = _Scan(s, [stream(at_least) for stream in streams], conditions, limit)
        page, next_cursor = scan.run(below)
        recipients = _recipients(s, [row.id for row in page])
        items = tuple(_view(row, recipients.get(row.id, ())) for row in page)
    return LogPage(items, next_cursor)


# A stream gives the next chunk of candidate log ids below an id (None: from the newest), newest
# first, from one index: the primary key, (sender, id), (sender_domain, id), or the recipients'
# (address, log_id), (status, log_id), (domain, log_id). Each chunk is a range scan of its index,
# and the other conditions are checked on the candidates alone, so no search walks the whole log.
Stream = Callable[[str | None, int], Select[str]]
FIRST_CHUNK_EXTRA, MAX_CHUNK, MAX_SCANNED = 1, 1000, 10_000


def _message_stream(*conditions: ColumnElement[bool]) -> Callable[[str], Stream]:
    def from_(at_least: str) -> Stream:
        def chunk(below: str | None, size: int) -> Select[str]:
            bounds = [LoggedMessage.id >= at_least] + ([LoggedMessage.id < below] if below else [])
            return select(LoggedMessage.id).where(*conditions, *bounds).order_by(LoggedMessage.id.desc()).limit(size)

        return chunk

    return from_


def _recipient_stream(*conditions: ColumnElement[bool], message: Sequence[ColumnElement[bool]] = ()) -> Callable[[str], Stream]:
    """`message`: conditions on the recipient's message row too (joined only for them)."""

    def from_(at_least: str) -> Stream:
        def chunk(below: str | None, size: int) -> Select[str]:
            bounds = [LoggedRecipient.log_id >= at_least] + ([LoggedRecipient.log_id < below] if below else [])
            query = select(LoggedRecipient.log_id)
            if message:
                query = query.join(LoggedMessage, LoggedMessage.id == LoggedRecipient.log_id).where(*message)
            query = query.where(*conditions, *bounds).distinct()
            return query.order_by(LoggedRecipient.log_id.desc()).limit(size)

        return chunk

    return from_


def _streams(filters: LogFilters, domains: Sequence[str] | None) -> tuple[list[Callable[[str], Stream]], bool]:
    """The index that narrows the search most: an exact message field, then a recipient, then
    the manager's domains (as sender or recipient: two streams), then a status, else the key;
    and whether the streams yield only messages in the manager's domains."""
    if filters.message_id:
        return [_message_stream(LoggedMessage.message_id == filters.message_id.strip().strip("<>"))], False
    if filters.sender:
        return [_message_stream(LoggedMessage.sender.in_(_address_forms(filters.sender)))], False
    if filters.recipient:
        return [_recipient_stream(LoggedRecipient.address.in_(_address_forms(filters.recipient)))], False
    if domains is not None:
        forms = _domain_forms(domains)
        # A status skips, in both streams, the messages none of whose recipients ever had it.
        having = [LoggedMessage.status_bits.op("&")(_status_bit(filters.status)) != 0] if filters.status else []
        streams = [
            _message_stream(LoggedMessage.sender_domain.in_(forms), *having),
            _recipient_stream(LoggedRecipient.domain.in_(forms), message=having),
        ]
        return streams, True
    if filters.status:
        return [_recipient_stream(LoggedRecipient.status == filters.status)], False
    return [_message_stream()], False


def _status_bit(status: str) -> int:
    return message_log.STATUS_BITS[message_log.Status(status)]


@dataclass
class _Scan:
    s: Session
    streams: list[Stream]
    conditions: list[ColumnElement[bool]]
    limit: int

    def run(self, below: str | None) -> tuple[list[LoggedMessage], str | None]:
        found: list[LoggedMessage] = []
        scanned, size = 0, self.limit + FIRST_CHUNK_EXTRA
        while True:
            chunks = [list(self.s.scalars(stream(below, size))) for stream in self.streams]
            # Ids down to the highest last id of a full chunk are complete in every stream.
            frontier = max((chunk[-1] for chunk in chunks if len(chunk) == size), default=None)
            candidates = sorted({i for chunk in chunks for i in chunk if frontier is None or i >= frontier}, reverse=True)
            found.extend(self._matching(candidates))
            if len(found) > self.limit:
                return found[: self.limit], found[self.limit - 1].id
            scanned += len(candidates)
            if frontier is None:
                return found, None  # every stream is exhausted
            if scanned >= MAX_SCANNED:
                return found, frontier
            below, size = frontier, min(size * 4, MAX_CHUNK)

    def _matching(self, candidates: list[str]) -> list[LoggedMessage]:
        if not candidates:
            return []
        query = select(LoggedMessage).where(_among(self.s, candidates), *self.conditions)
        return list(self.s.scalars(query.order_by(LoggedMessage.id.desc())))


def _among(s: Session, candidates: list[str]) -> ColumnElement[bool]:
    """id among the candidates: on PostgreSQL one array parameter (= ANY), not thousands."""
    if s.get_bind().dialect.name == "postgresql":
        return LoggedMessage.id == any_(bindparam("candidates", candidates, type_=ARRAY(String)))
    return LoggedMessage.id.in_(candidates)


def get_message(db: Database, log_id: str, *, actor: Actor) -> LoggedMessageView:
    """One message with every recipient and the timeline of their states."""
    require_manager(actor.scope)
    with db.read_session.begin() as s:
        row = _visible_message(s, actor, log_id)
        recipients = list(
            s.scalars(select(LoggedRecipient).where(LoggedRecipient.log_id == row.id).order_by(LoggedRecipient.id))
        )
        changes = [
            EventView(e.address, e.status, e.reply, e.relay, e.at)
            for e in s.scalars(select(LogEvent).where(LogEvent.log_id == row.id).order_by(LogEvent.id))
        ]
        changed = {event.address for event in changes}
        first = []
        for r in recipients:
            accepted = message_log.accepted_event(r, r.address in changed)
            first.append(EventView(r.address, accepted.status.value, accepted.reply, accepted.relay, row.created_at))
        return _view(row, [_recipient_view(r) for r in recipients], (*first, *changes))


def _visible_message(s: Session, actor: Actor, log_id: str) -> LoggedMessage:
    unknown = NotFound(N_("unknown message: %(id)s"), id=log_id)
    if not LOG_ID.fullmatch(log_id):
        raise unknown
    domains = actor.scope.domain_filter()
    query = select(LoggedMessage).where(LoggedMessage.id == log_id)
    if domains is not None:
        query = query.where(_visible(domains))
    row = s.scalar(query)
    if row is None:
        raise unknown
    return row


def _recipients(s: Session, ids: list[str]) -> dict[str, tuple[RecipientView, ...]]:
    found: dict[str, list[RecipientView]] = {}
    if not ids:
        return {}
    query = select(LoggedRecipient).where(LoggedRecipient.log_id.in_(ids)).order_by(LoggedRecipient.id)
    for r in s.scalars(query):
        found.setdefault(r.log_id, []).append(_recipient_view(r))
    return {log_id: tuple(views) for log_id, views in found.items()}


def _recipient_view(r: LoggedRecipient) -> RecipientView:
    return RecipientView(r.address, r.status, r.attempts, r.reply, r.updated_at)


def _view(row: LoggedMessage, recipients: Sequence[RecipientView], events: Sequence[EventView] = ()) -> LoggedMessageView:
    return LoggedMessageView(
        id=row.id,
        message_id=row.message_id,
        sender=row.sender,
        size=row.size,
        via=row.via,
        client_ip=row.client_ip,
        user=row.username,
        created_at=row.created_at,
        recipients=tuple(recipients),
        events=tuple(events),
    )


# -- the queue -----------------------------------------------------------------------------


def list_queue(db: Database, *, actor: Actor) -> list[Waiting]:
    """Recipients waiting in the outbound queue, soonest first, of the actor's domains."""
    require_manager(actor.scope)
    with db.read_session.begin() as s:
        return outbound.waiting(s, domains=actor.scope.domain_filter())


def _queued_in_scope(s: Session, actor: Actor, log_id: str) -> list[Waiting]:
    require_write(actor.scope)
    rows = outbound.waiting(s, log_id=log_id, domains=actor.scope.domain_filter()) if LOG_ID.fullmatch(log_id) else []
    if not rows:
        raise NotFound(N_("no queued message: %(id)s"), id=log_id)
    return rows


def retry_queued(db: Database, log_id: str, *, actor: Actor) -> int:
    """Try the message's queued recipients at the worker's next round; how many."""
    require_manager(actor.scope)
    with db.session.begin() as s:
        rows = _queued_in_scope(s, actor, log_id)
        count = outbound.retry_now(s, log_id)
        audit.record(s, actor, "queue.retry", log_id, rows[0].sender.rpartition("@")[2], f"{count} recipients")
    return count


def bounce_queued(db: Database, log_id: str, *, actor: Actor) -> int:
    """Give up on the message's queued recipients and bounce them to the sender; how many."""
    require_manager(actor.scope)
    with db.session.begin() as s:
        rows = _queued_in_scope(s, actor, log_id)
        given_up = outbound.give_up(s, db, log_id, GIVEN_UP_REPLY)
        count = sum(len(g.addresses) for g in given_up)
        audit.record(s, actor, "queue.bounce", log_id, rows[0].sender.rpartition("@")[2], f"{count} recipients")
    for item in given_up:
        mailflow.bounce_given_up(db, item, GIVEN_UP_REPLY)
    return count
