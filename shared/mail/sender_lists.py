"""Which allow or block listing of a hosted domain applies to a message's senders.

A message has up to two senders worth matching: its envelope sender and its `From:` address.
A listing names a whole address or a whole domain; for each sender the address listing wins over
its domain's, and when the two senders' listings differ, block wins (a blocked `From:` cannot be
let in by an allowed envelope sender, or the other way round).
"""
from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable

from sqlalchemy import Row, select

from shared.errors import N_, InvalidAddress
from shared.mail.addresses import Address, normalise_domain, parse_address
from shared.storage.db import Database
from shared.storage.models import Mailbox, SenderListing, SenderRule


def listing_keys(sender: Address) -> tuple[str, str]:
    """The keys a sender is listed under: its address, then its domain."""
    return str(sender), sender.domain


def listings(db: Database, domain_ids: Collection[int], senders: Collection[Address]) -> dict[int, SenderListing]:
    """For each recipient domain of `domain_ids` that lists any of `senders`, the listing that applies."""
    keys = {key for sender in senders for key in listing_keys(sender)}
    if not domain_ids or not keys:
        return {}
    query = select(SenderRule.domain_id, SenderRule.sender, SenderRule.listing).where(
        SenderRule.domain_id.in_(domain_ids), SenderRule.sender.in_(keys)
    )
    with db.session() as s:
        return _applying(s.execute(query).all(), senders)


def listings_by_mailbox(
    db: Database, mailbox_ids: Collection[int], senders: Collection[Address]
) -> dict[int, SenderListing]:
    """`listings` for the domains of recipient mailboxes, by mailbox: one query per message."""
    keys = {key for sender in senders for key in listing_keys(sender)}
    if not mailbox_ids or not keys:
        return {}
    query = (
        select(Mailbox.id, SenderRule.sender, SenderRule.listing)
        .join(SenderRule, SenderRule.domain_id == Mailbox.domain_id)
        .where(Mailbox.id.in_(mailbox_ids), SenderRule.sender.in_(keys))
    )
    with db.session() as s:
        return _applying(s.execute(query).all(), senders)


def _applying(rows: Iterable[Row[int, str, SenderListing]], senders: Collection[Address]) -> dict[int, SenderListing]:
    """Rows of (owner, listed key, listing) decided per owner by the rule above."""
    by_owner: dict[int, dict[str, SenderListing]] = {}
    for owner, key, listing in rows:
        by_owner.setdefault(owner, {})[key] = listing
    decided: dict[int, SenderListing] = {}
    for owner, listed in by_owner.items():
        applying = {found for found in (_listing_of(sender, listed) for sender in senders) if found is not None}
        if applying:
            decided[owner] = SenderListing.BLOCK if SenderListing.BLOCK in applying else SenderListing.ALLOW
    return decided


def _listing_of(sender: Address, listed: dict[str, SenderListing]) -> SenderListing | None:
    address, domain = listing_keys(sender)
    return listed.get(address, listed.get(domain))


MAX_SENDER_CHARS = 320  # the longest address RFC 5321 allows, and the column's width


def listed_sender_key(text: str) -> str:
    """The key a sender typed by an admin is listed under: `local@domain` as a normalised
    address, or `domain` / `@domain` as the A-label domain, exactly what `listing_keys` matches.

    Only whole addresses and whole domains are supported: a `*` pattern would match nothing
    `listing_keys` produces, so it is refused rather than stored as a listing that never applies.
    """
    if len(text) > MAX_SENDER_CHARS:
        raise InvalidAddress(N_("invalid sender: longer than %(limit)s characters"), limit=MAX_SENDER_CHARS)
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise InvalidAddress(N_("invalid sender: %(sender)r holds control characters"), sender=text)
    if "*" in text:
        raise InvalidAddress(N_("invalid sender: %(sender)r: no wildcards; list a whole domain as example.com"), sender=text)
    cleaned = text.strip()
    try:
        if cleaned.startswith("@"):
            return normalise_domain(cleaned[1:])
        return str(parse_address(cleaned)) if "@" in cleaned else normalise_domain(cleaned)
    except InvalidAddress as exc:
        raise InvalidAddress(N_("invalid sender: %(sender)r (give local@domain, domain or @domain)"), sender=text) from exc
