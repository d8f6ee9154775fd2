"""Use cases for a mailbox's own forwarding: where its mail goes on to, and whether a copy stays."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from shared.accounts import audit
from shared.accounts.aliases import refuse_unknown_hosted
from shared.accounts.mailboxes import administered_mailbox, visible_mailbox
from shared.accounts.views import Actor
from shared.errors import N_, InvalidAddress, InvalidValue
from shared.mail.addresses import domain_part, parse_address
from shared.mail.routing import forwards_in_loop
from shared.storage.db import Database
from shared.storage.lookups import hosted_domain
from shared.storage.models import Mailbox, MailboxForward

MAX_FORWARDS = 50


@dataclass(frozen=True)
class ForwardingView:
    address: str
    destinations: tuple[str, ...]
    keep_copy: bool

    @classmethod
    def of(cls, mailbox: Mailbox) -> ForwardingView:
        return cls(mailbox.address, tuple(f.address for f in mailbox.forwards), mailbox.keep_copy)


def get_forwarding(db: Database, address: str, *, actor: Actor) -> ForwardingView:
    """The forwarding of the actor's own mailbox or of one of its domains."""
    with db.session.begin() as s:
        return ForwardingView.of(visible_mailbox(s, actor.scope, address, own=True))


def set_forwarding(
    db: Database, address: str, destinations: Iterable[str], *, keep_copy: bool, actor: Actor
) -> ForwardingView:
    """Replace the forwards of the actor's own mailbox or of one it may change; an empty list
    switches forwarding off."""
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        targets = _canonical_targets(s, destinations)
        if mailbox.address in targets:
            raise InvalidValue(N_("%(address)s cannot forward to itself"), address=mailbox.address)
        refuse_unknown_hosted(s, targets, mailbox.address)
        _refuse_outside_if_forbidden(s, mailbox, targets)
        mailbox.forwards = []
        s.flush()
        mailbox.forwards = [MailboxForward(position=i, address=t) for i, t in enumerate(targets)]
        mailbox.keep_copy = keep_copy
        s.flush()
        limit = db.settings.alias_depth_limit
        if forwards_in_loop(s, mailbox.address, limit):
            raise InvalidValue(
                N_("%(address)s would forward in a loop or through more than %(limit)s aliases"),
                address=mailbox.address,
                limit=limit,
            )
        detail = f"keep_copy={keep_copy} " + " ".join(targets)
        audit.record(s, actor, "mailbox.forwarding", mailbox.address, mailbox.domain.name, detail.strip())
        return ForwardingView.of(mailbox)


def _refuse_outside_if_forbidden(s: Session, mailbox: Mailbox, targets: list[str]) -> None:
    """The domain's switch: its mailboxes may forward only within hosted domains."""
    if not mailbox.domain.forbid_external_forwarding:
        return
    outside = [target for target in targets if hosted_domain(s, domain_part(target)) is None]
    if outside:
        raise InvalidValue(
            N_("%(domain)s does not allow forwarding to other domains: %(addresses)s"),
            domain=mailbox.domain.name,
            addresses=", ".join(outside),
        )


def _canonical_targets(s: Session, destinations: Iterable[str]) -> list[str]:
    """Normalised, de-duplicated destinations; a hosted alias domain is written as its target domain."""
    targets: list[str] = []
    for text in destinations:
        try:
            parsed = parse_address(text)
        except InvalidAddress as error:
            raise InvalidAddress(N_("%(text)r is not a valid address (%(reason)s)"), text=text.strip(), reason=error) from None
        domain = hosted_domain(s, parsed.domain)
        target = f"{parsed.local}@{domain.name}" if domain else str(parsed)
        if target not in targets:
            targets.append(target)
    if len(targets) > MAX_FORWARDS:
        raise InvalidValue(N_("give at most %(limit)s forwarding addresses"), limit=MAX_FORWARDS)
    return targets
