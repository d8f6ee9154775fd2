"""Use cases for a hosted domain's sender allow and block lists, kept by its managers.

Which listing applies to a message is `shared.mail.sender_lists`'s rule; this module only
writes and reads the listings, with the keys that rule matches.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.accounts import audit
from shared.accounts.permissions import domain_in_scope, require_manager, require_write
from shared.accounts.views import Actor
from shared.errors import N_, LimitExceeded, NotFound
from shared.mail.sender_lists import listed_sender_key
from shared.storage.db import Database
from shared.storage.lookups import count_in_domain, domain_by_name
from shared.storage.models import Domain, SenderListing, SenderRule

# Far more than any list kept by hand; it stops a script from growing one without end.
MAX_LISTINGS_PER_DOMAIN = 10_000


@dataclass(frozen=True)
class SenderView:
    sender: str
    listing: str
    created_at: datetime

    @classmethod
    def of(cls, rule: SenderRule) -> SenderView:
        return cls(rule.sender, rule.listing.value, rule.created_at)


def allow_sender(db: Database, domain: str, sender: str, *, actor: Actor) -> SenderView:
    """Let `sender` (an address or a whole domain) past the content filter's junk verdict."""
    return _list_sender(db, domain, sender, SenderListing.ALLOW, actor)


def block_sender(db: Database, domain: str, sender: str, *, actor: Actor) -> SenderView:
    """Refuse mail from `sender` (an address or a whole domain) to the domain."""
    return _list_sender(db, domain, sender, SenderListing.BLOCK, actor)


def _list_sender(db: Database, domain_name: str, sender: str, listing: SenderListing, actor: Actor) -> SenderView:
    """One row per sender: listing it again replaces its allow or block."""
    with db.session.begin() as s:
        domain = _managed_domain(s, actor, domain_name)
        key = listed_sender_key(sender)
        rule = _rule(s, domain, key)
        if rule is None:
            _require_room(s, domain)
            rule = SenderRule(domain_id=domain.id, sender=key, listing=listing)
            s.add(rule)
            s.flush()
        else:
            rule.listing = listing
        audit.record(s, actor, f"sender.{listing.value}", key, domain.name)
        return SenderView.of(rule)


def unlist_sender(db: Database, domain: str, sender: str, *, actor: Actor) -> str:
    """Take `sender` off the domain's allow or block list and return its key; one not listed is NotFound."""
    with db.session.begin() as s:
        hosted = _managed_domain(s, actor, domain)
        key = listed_sender_key(sender)
        rule = _rule(s, hosted, key)
        if rule is None:
            raise NotFound(N_("sender not listed for %(domain)s: %(sender)s"), domain=hosted.name, sender=key)
        s.delete(rule)
        audit.record(s, actor, "sender.unlist", key, hosted.name)
        return key


def list_senders(db: Database, domain: str, *, actor: Actor) -> list[SenderView]:
    """The domain's listings, by sender."""
    with db.session.begin() as s:
        require_manager(actor.scope)
        hosted = domain_by_name(s, domain_in_scope(actor.scope, domain))
        rules = s.scalars(select(SenderRule).where(SenderRule.domain_id == hosted.id).order_by(SenderRule.sender))
        return [SenderView.of(rule) for rule in rules]


def _managed_domain(s: Session, actor: Actor, name: str) -> Domain:
    """The domain, locked for a change of its lists by one of its managers. One outside the
    actor's domains is NotFound, as if it did not exist."""
    ascii_name = domain_in_scope(actor.scope, name)
    require_write(actor.scope)
    require_manager(actor.scope)
    return domain_by_name(s, ascii_name, for_update=True)


def _rule(s: Session, domain: Domain, key: str) -> SenderRule | None:
    query = select(SenderRule).where(SenderRule.domain_id == domain.id, SenderRule.sender == key)
    return s.scalars(query).one_or_none()


def _require_room(s: Session, domain: Domain) -> None:
    if count_in_domain(s, SenderRule.domain_id, domain.id) >= MAX_LISTINGS_PER_DOMAIN:
        raise LimitExceeded(N_("%(domain)s already lists %(limit)s senders"), domain=domain.name, limit=MAX_LISTINGS_PER_DOMAIN)
