"""Messages moving on: accepted for local mailboxes and the outbound queue all or nothing,
bounced to their sender when delivery fails, queue attempts settled.

`accept_message` is what stands behind an SMTP 250: remote copies are queued HELD first,
then the local copies are delivered (shared.mail.delivery is itself all or nothing), and only
then are the queued copies released to the workers. Any failure before that cancels the
queued copies, so a 451 leaves nothing behind that anyone could see or receive. Bounces for
full mailboxes and out-of-office replies (shared.mail.autoreply) follow, and never fail it.
Copies a hosted domain forwards leave with an SRS envelope sender (shared.mail.srs).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from shared.errors import N_, InvalidAddress, QuotaExceeded, TemporaryFailure
from shared.mail import autoreply, outbound, srs
from shared.mail.delivery import DeliveryReport, deliver
from shared.mail.dsn import FailedRecipient, build_dsn
from shared.mail.routing import Refusal, resolve_recipient
from shared.storage.db import Database
from shared.storage.models import Mailbox

log = logging.getLogger(__name__)

OVER_QUOTA_REPLY = "552 5.2.2 Mailbox full"
NOTHING_DELIVERED = DeliveryReport((), ())


@dataclass(frozen=True)
class Acceptance:
    delivered: tuple[int, ...]
    over_quota: tuple[int, ...]
    queued: tuple[int, ...]
    log_id: str  # the message's id in answers and logs (`250 2.0.0 Ok: queued as <id>`)


def accept_message(
    db: Database,
    message: bytes,
    *,
    return_path: str | None,
    mailbox_ids: Sequence[int],
    remote: Mapping[str, str | None],
    junk_ids: Collection[int] = (),
) -> Acceptance:
    """Deliver to `mailbox_ids` (into the Junk folder for those of `junk_ids`) and queue for
    `remote`. `return_path` "" is the null sender <>. Junk gets no out-of-office reply.
    `remote` maps each remote address to the hosted domain that forwards the message there,
    or to None when a signed-in user sends it there.

    Raises QuotaExceeded when no copy at all could be kept, TemporaryFailure when nothing was kept.
    Mailboxes that were full while others got the message are reported to the sender in a DSN.
    """
    queued = _queue_held(db, message, return_path or "", remote)
    try:
        report = (
            deliver(db, message, mailbox_ids, return_path=return_path, junk_ids=junk_ids)
            if mailbox_ids
            else NOTHING_DELIVERED
        )
    except BaseException:
        _cancel(db, queued)
        raise
    if not queued and not report.delivered and report.over_quota:
        raise QuotaExceeded(N_("every recipient mailbox is full"))
    for message_id in queued:
        outbound.release(db, message_id)
    if report.over_quota:
        _bounce_over_quota(db, return_path or "", report.over_quota, message)
    in_inbox = [mailbox_id for mailbox_id in report.delivered if mailbox_id not in junk_ids]
    if in_inbox and return_path:
        _reply_automatically(db, message, return_path, in_inbox)
    return Acceptance(report.delivered, report.over_quota, queued, secrets.token_hex(8))


def _queue_held(db: Database, message: bytes, return_path: str, remote: Mapping[str, str | None]) -> tuple[int, ...]:
    """One HELD queue entry per envelope sender: forwards from different hosted domains get
    different SRS senders."""
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
            queued.append(outbound.enqueue(db, message, sender=sender, recipients=addresses, held=True))
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


def _bounce_over_quota(db: Database, sender: str, mailbox_ids: Sequence[int], message: bytes) -> None:
    """The message is already kept for the others: failing here must not turn the 250 into a 451
    (the client would send it again to everyone), so a failure is logged instead."""
    try:
        with db.session.begin() as s:
            addresses = list(s.scalars(select(Mailbox.address).where(Mailbox.id.in_(mailbox_ids))))
        failures = [FailedRecipient(address, OVER_QUOTA_REPLY) for address in addresses]
        send_bounce(db, sender=sender, failures=failures, original=message, arrival=outbound.now_utc())
    except (TemporaryFailure, SQLAlchemyError):
        log.exception("could not tell %r that mailboxes %s were full", sender, list(mailbox_ids))


def send_bounce(
    db: Database, *, sender: str, failures: Sequence[FailedRecipient], original: bytes, arrival: datetime
) -> None:
    """Tell `sender` which recipients did not get the message; never answers the null sender."""
    if not sender or not failures:
        return
    dsn = build_dsn(
        reporting_host=db.settings.hostname,
        sender=sender,
        failures=failures,
        original=original,
        arrival=arrival,
        now=outbound.now_utc(),
    )
    send_generated(db, dsn, recipient=sender, kind="bounce")


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
    in between can repeat a bounce but never lose one."""
    now = outbound.now_utc()
    addresses = {r.id: r.address for r in delivery.recipients}
    failures = [
        FailedRecipient(addresses[a.recipient_id], a.reply, expired=not a.permanent)
        for a in attempts
        if outbound.is_final_failure(a, delivery, now)
    ]
    if failures and delivery.sender:
        try:
            send_bounce(
                db, sender=delivery.sender, failures=failures, original=_original(delivery), arrival=delivery.arrival
            )
        except TemporaryFailure:
            log.warning("bounce for queued message %s postponed: it could not be stored", delivery.message_id)
            attempts = [
                dataclasses.replace(a, permanent=False) if outbound.is_final_failure(a, delivery, now) else a
                for a in attempts
            ]
    outbound.record(db, delivery, attempts)


def _original(delivery: outbound.Delivery) -> bytes:
    try:
        return outbound.read_body(delivery)
    except TemporaryFailure:
        return b""
