"""Messages moving on: accepted for local mailboxes and the outbound queue all or nothing,
bounced to their sender when delivery fails, queue attempts settled.

`accept_message` is what stands behind an SMTP 250: remote copies are queued HELD first,
then the local copies are delivered (shared.mail.delivery is itself all or nothing), and only
then are the queued copies released to the workers. Any failure before that cancels the
queued copies, so a 451 leaves nothing behind that anyone could see or receive. Bounces for
full mailboxes, success reports asked for with DSN and out-of-office replies
(shared.mail.autoreply) follow, and never fail it. Every report (shared.mail.dsn) goes only
where the recipient's NOTIFY asks for it (shared.mail.dsn_requests).
Copies a hosted domain forwards leave with an SRS envelope sender (shared.mail.srs).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared.errors import N_, InvalidAddress, QuotaExceeded, TemporaryFailure
from shared.mail import autoreply, message_log, outbound, srs, suppressions
from shared.mail.delivery import DeliveryReport, deliver
from shared.mail.dsn import Action, ReportedRecipient, build_dsn
from shared.mail.dsn_requests import (
    NO_MESSAGE_REQUEST,
    NOTHING_ASKED,
    Event,
    MessageRequest,
    Requests,
    is_delay_notice_due,
)
from shared.mail.routing import Refusal, resolve_recipient
from shared.storage import maildirs, rawsql
from shared.storage.db import Database
from shared.storage.models import Mailbox
from shared.storage.rawsql import RawCursor

log = logging.getLogger(__name__)

OVER_QUOTA_REPLY = "552 5.2.2 Mailbox full"
DELIVERED_REPLY = "delivered to the mailbox"
NOTHING_DELIVERED = DeliveryReport((), ())
NO_REQUESTS = Requests()


@dataclass(frozen=True)
class Acceptance:
    delivered: tuple[int, ...]
    over_quota: tuple[int, ...]
    queued: tuple[int, ...]
    log_id: str = ""  # the message log's id, "" for a message the system wrote


@dataclass(frozen=True)
class _LogWriter:
    """The message log entry of one acceptance, written in the transaction behind the 250:
    the reservation when the message only goes to mailboxes, else the queued copies' release."""

    entry: message_log.Entry
    addresses: Mapping[int, str]
    remote: Collection[str]

    def complete(self, delivered: Collection[int], over_quota: Collection[int]) -> message_log.Entry:
        Outcome, Status = message_log.Outcome, message_log.Status
        outcomes = [
            *(Outcome(self.addresses[i], Status.DELIVERED, relay="local") for i in delivered),
            *(Outcome(self.addresses[i], Status.BOUNCED, OVER_QUOTA_REPLY, "local") for i in over_quota),
            *(Outcome(address, Status.QUEUED) for address in self.remote),
            *(Outcome(address, Status.REFUSED, reply) for address, reply in self.entry.origin.refused),
        ]
        return dataclasses.replace(self.entry, outcomes=tuple(outcomes))

    def in_reservation(self, cursor: RawCursor, reserved: Mapping[int, str]) -> None:
        over_quota = [i for i in self.addresses if i not in reserved]
        message_log.write(cursor, self.complete(sorted(reserved), over_quota))


def accept_message(
    db: Database,
    message: bytes,
    *,
    return_path: str | None,
    mailbox_ids: Sequence[int],
    remote: Mapping[str, str | None],
    junk_ids: Collection[int] = (),
    origin: message_log.Origin | None = None,
    mailbox_addresses: Mapping[int, str] | None = None,
    requests: Requests = NO_REQUESTS,
    first: Callable[[RawCursor], None] | None = None,
) -> Acceptance:
    """Deliver to `mailbox_ids` (into the Junk folder for those of `junk_ids`) and queue for
    `remote`. `return_path` "" is the null sender <>. Junk gets no out-of-office reply.
    `remote` maps each remote address to the hosted domain that forwards the message there,
    or to None when a signed-in user sends it there. With an `origin` the message is logged
    (shared.mail.message_log), its mailboxes named by `mailbox_addresses`. `requests`: what a
    submission asked for with DSN. `first` writes in the first transaction that keeps the
    message (the reservation, or the release of the queued copies when no mailbox gets one),
    and may refuse the message by raising there.

    Raises QuotaExceeded when no copy at all could be kept, TemporaryFailure when nothing was kept.
    Mailboxes that were full while others got the message are reported to the sender in a DSN.
    """
    writer = _log_writer(message, return_path or "", origin, mailbox_ids, mailbox_addresses or {}, remote)
    log_id = writer.entry.log_id if writer else ""
    queued = _queue_held(db, message, return_path or "", remote, log_id or None, requests)
    logged_in_reservation = writer is not None and not queued
    in_reservation = _reservation_writes(first, writer.in_reservation if writer and logged_in_reservation else None)
    try:
        report = (
            deliver(db, message, mailbox_ids, return_path=return_path, junk_ids=junk_ids, then=in_reservation)
            if mailbox_ids
            else NOTHING_DELIVERED
        )
        if not queued and not report.delivered and report.over_quota:
            raise QuotaExceeded(N_("every recipient mailbox is full"))
        if queued:
            entry = writer.complete(report.delivered, report.over_quota) if writer else None
            outbound.release(db, queued, then=_release_writes(None if mailbox_ids else first, entry))
    except BaseException:
        _cancel(db, queued)
        if logged_in_reservation:
            _forget(db, log_id)
        raise
    if report.over_quota:
        _report_local(db, return_path or "", report.over_quota, message, requests, Action.FAILED)
    if report.delivered and return_path:
        _report_local(db, return_path, report.delivered, message, requests, Action.DELIVERED)
    in_inbox = [mailbox_id for mailbox_id in report.delivered if mailbox_id not in junk_ids]
    if in_inbox and return_path:
        _reply_automatically(db, message, return_path, in_inbox)
    return Acceptance(report.delivered, report.over_quota, queued, log_id)


def _reservation_writes(
    first: Callable[[RawCursor], None] | None, log: Callable[[RawCursor, Mapping[int, str]], None] | None
) -> Callable[[RawCursor, Mapping[int, str]], None] | None:
    if first is None:
        return log

    def writes(cursor: RawCursor, reserved: Mapping[int, str]) -> None:
        first(cursor)
        if log is not None:
            log(cursor, reserved)

    return writes


def _release_writes(
    first: Callable[[RawCursor], None] | None, entry: message_log.Entry | None
) -> Callable[[Session], None] | None:
    if first is None and entry is None:
        return None

    def writes(s: Session) -> None:
        if first is not None:
            first(rawsql.of_session(s))
        if entry is not None:
            message_log.add(s, entry)

    return writes


def _log_writer(
    message: bytes,
    sender: str,
    origin: message_log.Origin | None,
    mailbox_ids: Sequence[int],
    addresses: Mapping[int, str],
    remote: Mapping[str, str | None],
) -> _LogWriter | None:
    if origin is None:
        return None
    entry = message_log.Entry(
        log_id=message_log.new_log_id(),
        sender=sender,
        message_id=message_log.header_message_id(message),
        size=len(message),
        origin=origin,
        outcomes=(),
    )
    return _LogWriter(entry, {i: addresses[i] for i in sorted(set(mailbox_ids))}, list(remote))


def _forget(db: Database, log_id: str) -> None:
    """The reservation's transaction logged a message that was not kept in the end."""
    try:
        message_log.forget(db, log_id)
    except SQLAlchemyError:
        log.exception("could not take back the message log entry %s of a message not kept", log_id)


def _queue_held(
    db: Database,
    message: bytes,
    return_path: str,
    remote: Mapping[str, str | None],
    log_id: str | None,
    requests: Requests,
) -> tuple[int, ...]:
    """One HELD queue entry per envelope sender: forwards from different hosted domains get
    different SRS senders, and none of the sender's DSN requests."""
    senders = {
        forwarder: srs.forwarding_sender(db, return_path, forwarder) if forwarder else return_path
        for forwarder in set(remote.values())
    }
    recipients: dict[str, list[str]] = {}
    for address, forwarder in remote.items():
        recipients.setdefault(senders[forwarder], []).append(address)
    queued: list[int] = []
    try:
        for sender, addresses in recipients.items():
            asked = requests if sender == return_path else NO_REQUESTS
            queued.append(
                outbound.enqueue(
                    db,
                    message,
                    sender=sender,
                    recipients=addresses,
                    held=True,
                    log_id=log_id,
                    request=asked.message,
                    recipient_requests=asked.remote,
                )
            )
    except BaseException:
        _cancel(db, queued)
        raise
    return tuple(queued)


def _cancel(db: Database, queued: Sequence[int]) -> None:
    for message_id in queued:
        outbound.cancel(db, message_id)


def _reply_automatically(db: Database, message: bytes, sender: str, mailbox_ids: Sequence[int]) -> None:
    """Out-of-office replies, after the message is kept: like a bounce, a failure here must not
    turn the 250 into a 451, so it is logged instead."""
    try:
        for reply in autoreply.due_replies(db, message, sender=sender, mailbox_ids=mailbox_ids):
            send_generated(db, reply, recipient=sender, kind="automatic reply")
    except (TemporaryFailure, SQLAlchemyError):
        log.exception("could not send the automatic replies of mailboxes %s to %r", list(mailbox_ids), sender)


def _report_local(
    db: Database, sender: str, mailbox_ids: Sequence[int], message: bytes, requests: Requests, action: Action
) -> None:
    """Tell the sender of mailboxes that were full (FAILED) or got the message (DELIVERED, when
    asked for). The message is already kept: failing here must not turn the 250 into a 451 (the
    client would send it again to everyone), so a failure is logged instead."""
    event = Event.FAILURE if action is Action.FAILED else Event.SUCCESS
    wanted = [i for i in mailbox_ids if requests.mailboxes.get(i, NOTHING_ASKED).asks_for(event)]
    if not sender or not wanted:
        return
    reply = OVER_QUOTA_REPLY if action is Action.FAILED else DELIVERED_REPLY
    try:
        with db.session.begin() as s:
            rows = s.execute(select(Mailbox.id, Mailbox.address).where(Mailbox.id.in_(wanted)))
            addresses = {row.id: row.address for row in rows}
        recipients = [
            ReportedRecipient(addresses[i], reply, original_recipient=requests.mailboxes.get(i, NOTHING_ASKED).orcpt)
            for i in wanted
            if i in addresses
        ]
        send_report(
            db,
            sender=sender,
            recipients=recipients,
            original=message,
            arrival=outbound.now_utc(),
            action=action,
            request=requests.message,
        )
    except (TemporaryFailure, SQLAlchemyError):
        log.exception("could not tell %r that mailboxes %s were %s", sender, list(wanted), action.value)


def send_report(
    db: Database,
    *,
    sender: str,
    recipients: Sequence[ReportedRecipient],
    original: bytes,
    arrival: datetime,
    action: Action = Action.FAILED,
    request: MessageRequest = NO_MESSAGE_REQUEST,
    retry_until: datetime | None = None,
) -> None:
    """Tell `sender` what became of the message for `recipients` (shared.mail.dsn); never
    answers the null sender."""
    if not sender or not recipients:
        return
    dsn = build_dsn(
        reporting_host=db.settings.hostname,
        sender=sender,
        recipients=recipients,
        original=original,
        arrival=arrival,
        now=outbound.now_utc(),
        action=action,
        request=request,
        retry_until=retry_until,
    )
    send_generated(db, dsn, recipient=sender, kind="bounce" if action is Action.FAILED else f"{action.value} report")


def send_generated(db: Database, message: bytes, *, recipient: str, kind: str) -> None:
    """Send a message the mail system wrote (`kind`: a bounce, an automatic reply) from the null
    sender <>: queued for a remote recipient, delivered at once to a hosted one (no round trip
    through our own MX). The null sender means the recipient's own bounces and out-of-office
    replies never answer it, so two mailboxes cannot reply to each other in a loop."""
    try:
        plan = srs.bounce_plan(db, recipient) or resolve_recipient(db, recipient)
    except InvalidAddress:
        log.warning("%s for %r dropped: the address is not valid", kind, recipient)
        return
    try:
        if plan.refusal is Refusal.NOT_HOSTED:
            outbound.enqueue(db, message, sender="", recipients=[recipient])
        elif plan.deliverable:
            mailbox_ids = [m.id for m in plan.mailboxes]
            accept_message(db, message, return_path="", mailbox_ids=mailbox_ids, remote=dict.fromkeys(plan.forwards))
        else:
            log.warning("%s for %s dropped: %s", kind, recipient, plan.refusal.value if plan.refusal else "no route")
    except QuotaExceeded:
        log.warning("%s for %s dropped: mailbox full", kind, recipient)


def settle(db: Database, delivery: outbound.Delivery, attempts: Sequence[outbound.Attempt]) -> None:
    """Record one delivery try; recipients that failed for good are bounced first, so a crash
    in between can repeat a bounce but never lose one. Then the success reports asked for (the
    next hop took the message but offers no DSN), and the message's one delay notice when due."""
    now = outbound.now_utc()
    final = [a for a in attempts if outbound.is_final_failure(a, delivery, now)]
    relayed = [a for a in attempts if a.sent and not a.dsn_passed_on]
    deferred = [a for a in attempts if not a.sent and a not in final]
    try:
        _report_queued(db, delivery, final, Action.FAILED)
    except TemporaryFailure:
        log.warning("bounce for queued message %s postponed: it could not be stored", delivery.message_id)
        attempts = [dataclasses.replace(a, permanent=False) if a in final else a for a in attempts]
    outbound.record(db, delivery, attempts)
    try:
        _report_queued(db, delivery, relayed, Action.RELAYED)
        if _is_delay_notice_due(db, delivery, deferred, now):
            _report_queued(db, delivery, deferred, Action.DELAYED)
    except (TemporaryFailure, SQLAlchemyError):
        log.exception("could not send the reports of queued message %s", delivery.message_id)


_EVENT_OF = {Action.FAILED: Event.FAILURE, Action.RELAYED: Event.SUCCESS, Action.DELAYED: Event.DELAY}


def _report_queued(
    db: Database, delivery: outbound.Delivery, attempts: Sequence[outbound.Attempt], action: Action
) -> None:
    """One report of `action` for those of `attempts` whose NOTIFY asks for it."""
    claimed = {r.id: r for r in delivery.recipients}
    asking = [(claimed[a.recipient_id], a) for a in attempts if claimed[a.recipient_id].request.asks_for(_EVENT_OF[action])]
    if not asking or not delivery.sender:
        return
    send_report(
        db,
        sender=delivery.sender,
        recipients=[
            ReportedRecipient(r.address, a.reply, expired=not a.permanent, original_recipient=r.request.orcpt)
            for r, a in asking
        ],
        original=_original(delivery),
        arrival=delivery.arrival,
        action=action,
        request=delivery.request,
        retry_until=delivery.expires_at,
    )


def _is_delay_notice_due(
    db: Database, delivery: outbound.Delivery, deferred: Sequence[outbound.Attempt], now: datetime
) -> bool:
    """Due by age (shared.mail.dsn_requests), wanted by a deferred recipient, and not yet taken
    by another worker; taking it marks it sent."""
    claimed = {r.id: r for r in delivery.recipients}
    wanted = any(claimed[a.recipient_id].request.asks_for(Event.DELAY) for a in deferred)
    return (
        wanted
        and bool(delivery.sender)
        and is_delay_notice_due(delivery.arrival, delivery.delay_notified, now)
        and outbound.take_delay_notice(db, delivery.message_id)
    )


def hold_suppressed(db: Database, delivery: outbound.Delivery) -> tuple[outbound.Delivery, list[outbound.Attempt]]:
    """The recipients of `delivery` still to send to, and a permanent failure for each one the
    sending domain suppressed (no host is tried for them; `settle` bounces them to the sender)."""
    found = suppressions.suppressed(db, delivery.sender, [r.address for r in delivery.recipients])
    if not found:
        return delivery, []
    held = [
        outbound.Attempt(r.id, sent=False, permanent=True, reply=suppressions.refusal(r.address, found[r.address]))
        for r in delivery.recipients
        if r.address in found
    ]
    rest = tuple(r for r in delivery.recipients if r.address not in found)
    return dataclasses.replace(delivery, recipients=rest), held


def _original(delivery: outbound.Delivery) -> bytes:
    try:
        return outbound.read_body(delivery)
    except TemporaryFailure:
        return b""


def bounce_given_up(db: Database, given_up: outbound.GivenUp, reply: str) -> None:
    """Tell the sender about recipients an admin gave up on (outbound.give_up, committed), then
    drop the body of a message that left the queue. A failure to bounce is logged: the
    recipients stay given up."""
    try:
        original = given_up.body_path.read_bytes()
    except OSError:
        original = b""
    failures = [
        ReportedRecipient(address, reply, original_recipient=asked.orcpt)
        for address, asked in zip(given_up.addresses, given_up.recipient_requests, strict=True)
        if asked.asks_for(Event.FAILURE)
    ]
    try:
        send_report(
            db,
            sender=given_up.sender,
            recipients=failures,
            original=original,
            arrival=given_up.arrival,
            request=given_up.request,
        )
    except (TemporaryFailure, SQLAlchemyError):
        log.exception("could not bounce to %r the recipients given up: %s", given_up.sender, list(given_up.addresses))
    if given_up.settled:
        maildirs.remove_messages([given_up.body_path])
