"""Sending mail over HTTP (POST /api/v1/messages) as a send token's owner.

The message takes the path a submitted one takes, with the same rules: the owner must be
allowed to send as `from` (shared.mail.routing.may_send_as), the hourly submission rate
counts it (shared.mail.ratelimit) in the transaction that keeps it, a written message gets Date and Message-ID as submission
completes one, and shared.mail.mailflow.accept_message delivers local copies and queues the
others (the outbound relay signs them with DKIM, as it does submitted mail). The answer names
each recipient's status: `delivered` (in the mailbox), `queued` (leaving, or forwarded),
`bounced` (its mailbox is full: the sender gets a DSN), `refused` (no such address here) or
`suppressed` (the sending domain's suppression list holds it after a hard bounce: nothing is
sent to it, and the message log shows it `refused` with a reply that says so).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.accounts import idempotency
from shared.accounts.permissions import require_sender
from shared.accounts.views import Actor
from shared.errors import N_, LimitExceeded, PermissionDenied
from shared.mail import mailflow, message_log, ratelimit, suppressions
from shared.mail.composition import Draft, FieldError, authors, complete_raw, compose, mailbox_of
from shared.mail.routing import Refusal, may_send_as, resolve_recipient
from shared.storage.db import Database
from shared.storage.rawsql import RawCursor

MAX_TAGS = 10
SUPPRESSED = "suppressed"
# The enhanced status code SMTP's RCPT gives each refusal (RFC 3463), for the message log's reply.
REFUSAL_CODES = {
    Refusal.NO_SUCH_USER: "5.1.1",
    Refusal.DISABLED: "5.2.1",
    Refusal.SENDER_NOT_ALLOWED: "5.7.1",
    Refusal.LOOP: "5.4.6",
}


class NotYourAddress(PermissionDenied):
    """The sender may not use this address; `field` names where it was given."""

    def __init__(self, field: str, address: str) -> None:
        super().__init__(N_("%(field)s: you may not send as %(address)s"), field=field, address=address)
        self.field = field


@dataclass(frozen=True)
class Envelope:
    """`sender` is the `from` field as given; the recipients by field (`to`, `cc`, `bcc`)."""

    sender: str
    recipients: tuple[tuple[str, tuple[str, ...]], ...]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Routes:
    mailboxes: dict[str, tuple[int, ...]]
    remote: dict[str, str | None]
    refused: tuple[tuple[str, str], ...]  # each refused address with our reply, as RCPT would give it
    mailbox_addresses: dict[int, str]  # each mailbox's own address, as the message log names it


def send_message(
    db: Database,
    envelope: Envelope,
    content: Draft | bytes,
    *,
    actor: Actor,
    idempotency_key: str | None = None,
    request_hash: str = "",
) -> tuple[dict[str, Any], bool]:
    """Send `content` (parts to write, or a whole message) and return the answer, and whether
    it is the stored answer of an earlier request with the same `idempotency_key`."""
    require_sender(actor.scope)
    sender = mailbox_of("from", envelope.sender)
    if not may_send_as(db, actor.address, sender):
        raise NotYourAddress("from", sender)
    recipients = _recipients(db, envelope)
    _check_tags(envelope.tags)
    message = _message(db, envelope, content, actor)
    token_id = actor.token.id if actor.token else 0
    if idempotency_key is not None:
        if actor.token is None:
            raise FieldError(idempotency.HEADER, N_("%(field)s: is kept per API token; this sender uses none"))
        first = idempotency.claim(db, token_id, idempotency.check_key(idempotency_key), request_hash)
        if first is not None:
            return first, True
    try:
        origin = message_log.Origin("api", actor.ip or "", actor.address, tags=envelope.tags)
        answer = _send(db, sender, recipients, message, (token_id, idempotency_key), origin)
    except BaseException:
        if idempotency_key is not None:
            idempotency.give_back(db, token_id, idempotency_key)
        raise
    return answer, False


def _recipients(db: Database, envelope: Envelope) -> list[str]:
    found: dict[str, None] = {}
    for field, addresses in envelope.recipients:
        for index, text in enumerate(addresses):
            found.setdefault(mailbox_of(f"{field}[{index}]", text))
    if not found:
        raise FieldError("to", N_("%(field)s: give at least one recipient"))
    if len(found) > db.settings.max_recipients:
        raise FieldError("to", N_("%(field)s: at most %(limit)d recipients in all"), limit=db.settings.max_recipients)
    return list(found)


def _check_tags(tags: Sequence[str]) -> None:
    if len(tags) > MAX_TAGS or not all(0 < len(tag) <= 128 and tag.isprintable() for tag in tags):
        raise FieldError("tags", N_("%(field)s: at most %(limit)d tags of 1 to 128 printable characters"), limit=MAX_TAGS)


def _message(db: Database, envelope: Envelope, content: Draft | bytes, actor: Actor) -> bytes:
    now, hostname = datetime.now(UTC), db.settings.hostname
    if isinstance(content, Draft):
        message = compose(content, hostname=hostname, now=now)
    else:
        message = complete_raw(content, hostname=hostname, now=now)
        # The From field is what DKIM signs for and what readers see: it obeys the same rule.
        for author in authors(message) or [""]:
            if not may_send_as(db, actor.address, author):
                raise NotYourAddress("raw_base64", author or "(no From field)")
    if len(message) > db.settings.max_message_size:
        field = "text" if isinstance(content, Draft) else "raw_base64"
        raise FieldError(field, N_("%(field)s: the message is larger than %(limit)d bytes"), limit=db.settings.max_message_size)
    return message


def _route(db: Database, sender: str, recipients: Sequence[str]) -> Routes:
    """Where each recipient's copy goes, as RCPT decides it for a signed-in user."""
    mailboxes: dict[str, tuple[int, ...]] = {}
    remote: dict[str, str | None] = {}
    refused: list[tuple[str, str]] = []
    addresses: dict[int, str] = {}
    for address in recipients:
        plan = resolve_recipient(db, address, sender=sender)
        if plan.refusal is Refusal.NOT_HOSTED:
            remote[address] = None
        elif plan.refusal is not None:
            refused.append((address, f"550 {REFUSAL_CODES[plan.refusal]} <{address}>: {plan.refusal.value}"))
        else:
            mailboxes[address] = tuple(mailbox.id for mailbox in plan.mailboxes)
            addresses.update((mailbox.id, mailbox.address) for mailbox in plan.mailboxes)
            remote.update(dict.fromkeys(plan.forwards, plan.address.rpartition("@")[2]))
    return Routes(mailboxes, remote, tuple(refused), addresses)


def _send(
    db: Database,
    sender: str,
    recipients: Sequence[str],
    message: bytes,
    idempotent: tuple[int, str | None],
    origin: message_log.Origin,
) -> dict[str, Any]:
    routes = _route(db, sender, recipients)
    origin = dataclasses.replace(origin, refused=routes.refused)
    if len(routes.refused) == len(recipients):
        message_log.record_refusal(
            db, message_log.refusal_entry(sender=sender, message=message, origin=origin, refused=routes.refused)
        )
        addresses = ", ".join(address for address, _reason in routes.refused)
        raise FieldError("to", N_("%(field)s: no recipient exists: %(addresses)s"), addresses=addresses)
    relayed = [address for address, forwarder in routes.remote.items() if forwarder is None]
    held = suppressions.suppressed(db, sender, relayed)
    refusals = tuple((address, suppressions.refusal(address, since)) for address, since in held.items())
    origin = dataclasses.replace(origin, refused=origin.refused + refusals)
    remote = {address: forwarder for address, forwarder in routes.remote.items() if address not in held}
    mailbox_ids = sorted({number for numbers in routes.mailboxes.values() for number in numbers})
    if mailbox_ids or remote:
        accepted = mailflow.accept_message(
            db,
            message,
            return_path=sender,
            mailbox_ids=mailbox_ids,
            remote=remote,
            origin=origin,
            mailbox_addresses=routes.mailbox_addresses,
            first=_counted(db, origin.user),
        )
    else:  # every recipient suppressed: nothing to accept, the refusals still logged
        entry = message_log.refusal_entry(sender=sender, message=message, origin=origin, refused=origin.refused)
        message_log.record_refusal(db, entry)
        accepted = mailflow.Acceptance((), (), (), entry.log_id)
    statuses = {address: SUPPRESSED if address in held else _status(routes, accepted, address) for address in recipients}
    answer = {
        "id": accepted.log_id,
        "message_id": message_log.header_message_id(message),
        "recipients": [{"address": address, "status": status} for address, status in statuses.items()],
    }
    token_id, key = idempotent
    if key is not None:
        with db.session.begin() as s:
            idempotency.keep_answer(s, token_id, key, answer)
    return answer


def _counted(db: Database, address: str) -> Callable[[RawCursor], None] | None:
    """The hourly submission rate, counted in the transaction that keeps the message (no
    commit of its own); over the limit, nothing is kept."""
    limit = db.settings.submission_rate_per_hour
    if limit == 0:
        return None

    def count(cursor: RawCursor) -> None:
        if not ratelimit.take_submission(cursor, address, limit):
            raise LimitExceeded(N_("the limit of %(limit)d messages an hour is reached; try again later"), limit=limit)

    return count


def _status(routes: Routes, accepted: mailflow.Acceptance, address: str) -> str:
    if any(address == refused for refused, _reason in routes.refused):
        return "refused"
    if address not in routes.mailboxes or not routes.mailboxes[address]:
        return "queued"
    return "delivered" if any(number in accepted.delivered for number in routes.mailboxes[address]) else "bounced"
