"""Where mail for an address goes, and who may send as whom.

Resolution walks aliases and groups breadth first, one batch of indexed lookups per
level, so its cost depends on the depth of the alias graph, never on the number of
mailboxes. Precedence for an address in a hosted domain: mailbox, alias or group with
that exact address; then the same without a `+tag`; then the domain's catch-all; then,
for postmaster, the domain's managers or the global admins (RFC 5321 §4.5.1).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session, joinedload

from shared.errors import InvalidAddress
from shared.mail import quota
from shared.mail.addresses import Address, parse_address
from shared.storage import rawsql
from shared.storage.db import Database
from shared.storage.directory_cache import DirectoryCache
from shared.storage.lookups import hosted_domain
from shared.storage.models import (
    Alias,
    Domain,
    GroupMailbox,
    Mailbox,
    MailboxForward,
    SendingPolicy,
    domain_manager,
)
from shared.storage.rawsql import RawStatement

RECIPIENT_DELIMITER = "+"
# What an address can be: a mailbox, an alias, a group, or a computed list of addresses (postmaster).
Entry = Mailbox | Alias | GroupMailbox | tuple[str, ...]
# An address waiting in an expansion: the recipient, parsed at the edge, or an address as stored
# in an alias, group, forward or postmaster list, parsed when its level is expanded.
_Pending = Address | str


class Refusal(enum.Enum):
    NOT_HOSTED = "the domain is not hosted here"
    NO_SUCH_USER = "no such user"
    DISABLED = "the mailbox or its domain is disabled"
    SENDER_NOT_ALLOWED = "the sender may not write to this group"
    LOOP = "the address forwards in a loop"


@dataclass(frozen=True)
class LocalMailbox:
    id: int
    address: str
    quota_bytes: int
    used_bytes: int

    def has_room(self, size: int) -> bool:
        return quota.has_room(self.quota_bytes, self.used_bytes, size)

    def has_spare_room(self, size: int) -> bool:
        """See shared.mail.quota.has_spare_room: what a cached answer may promise."""
        return quota.has_spare_room(self.quota_bytes, self.used_bytes, size)


@dataclass(frozen=True)
class DeliveryPlan:
    address: str
    mailboxes: tuple[LocalMailbox, ...] = ()
    forwards: tuple[str, ...] = ()
    refusal: Refusal | None = None
    # Ids of the active mailboxes the address leads to, also those that forward all their
    # mail on and keep no copy: who may send as the address (may_send_as).
    owners: frozenset[int] = frozenset()
    # A group let the sender in by who it is (policy `domain` or `members`): at the MX that
    # holds only if the message then authenticates for the sender's domain.
    sender_vouched: bool = False

    @property
    def deliverable(self) -> bool:
        return self.refusal is None and bool(self.mailboxes or self.forwards)


@dataclass
class _Walk:
    """State of one expansion: what was seen, what was found, whether a loop or a policy stopped it."""

    sender: Address | None
    use_catch_all: bool
    seen: set[str] = field(default_factory=set)
    mailboxes: dict[int, LocalMailbox] = field(default_factory=dict)
    owners: set[int] = field(default_factory=set)
    forwards: list[str] = field(default_factory=list)
    looped: bool = False
    refused_sender: bool = False
    sender_vouched: bool = False
    domains: dict[str, Domain | None] = field(default_factory=dict)
    # The address whose entry is being saved: it must not vouch for the addresses it leads to.
    ignored: str | None = None


# Most recipients are an active mailbox of an active domain that forwards nowhere: one
# statement, prebuilt for the DBAPI cursor, answers them. Addresses are unique across
# mailboxes, aliases and groups, so no other entry could take precedence over an exact mailbox.
_PLAIN_MAILBOX_QUERY = RawStatement(
    select(Mailbox.id, Mailbox.address, Mailbox.quota_bytes, Mailbox.used_bytes)
    .join(Domain, Domain.id == Mailbox.domain_id)
    .where(
        Mailbox.address == bindparam("address"),
        Mailbox.active,
        Domain.active,
        ~exists().where(MailboxForward.mailbox_id == Mailbox.id),
    )
)

# may_send_as for one's own address (every send API call): does that mailbox exist.
_MAILBOX_EXISTS = RawStatement(select(Mailbox.id).where(Mailbox.address == bindparam("address")))


def resolve_recipient(
    db: Database, address: str | Address, *, sender: str | None = None, cache: DirectoryCache[LocalMailbox] | None = None
) -> DeliveryPlan:
    """The delivery plan for one RCPT; raises InvalidAddress for a malformed address.
    `cache`: plain mailboxes found are kept there for `cached_plan`."""
    target = address if isinstance(address, Address) else parse_address(address)
    generation = cache.generation if cache is not None else 0
    # The common case on the DBAPI cursor: an ORM session costs more CPU than the query.
    with rawsql.cursor(db, transaction=False) as cursor:
        plain = _PLAIN_MAILBOX_QUERY.execute(cursor, {"address": str(target)}).fetchone()
    if plain is not None:
        mailbox = LocalMailbox(*plain)
        if cache is not None and mailbox.has_spare_room(0):
            cache.store(str(target), mailbox, generation)
        return _plain_plan(mailbox)
    with db.read_session.begin() as s:
        return plan_for(s, target, _sender_address(sender), db.settings.alias_depth_limit)


def cached_plan(cache: DirectoryCache[LocalMailbox], address: Address, size: int) -> DeliveryPlan | None:
    """The plan `resolve_recipient` found for a plain mailbox a moment ago, if the cache kept it
    and the mailbox then had room for `size` bytes to spare."""
    mailbox = cache.lookup(str(address))
    return _plain_plan(mailbox) if mailbox is not None and mailbox.has_spare_room(size) else None


def _plain_plan(mailbox: LocalMailbox) -> DeliveryPlan:
    """An address that is one active mailbox of an active domain, keeping its mail."""
    return DeliveryPlan(mailbox.address, (mailbox,))


def _sender_address(sender: str | None) -> Address | None:
    if not sender:
        return None
    try:
        return parse_address(sender)
    except InvalidAddress:
        return None


def plan_for(s: Session, target: Address, sender: Address | None, depth_limit: int, use_catch_all: bool = True) -> DeliveryPlan:
    walk = _Walk(sender=sender, use_catch_all=use_catch_all)
    domain = _hosted_domain_in_walk(s, walk, target.domain)
    if domain is None:
        return DeliveryPlan(str(target), refusal=Refusal.NOT_HOSTED)
    if not domain.active:
        return DeliveryPlan(str(target), refusal=Refusal.DISABLED)
    recipient = Address(target.local, domain.name)
    canonical = str(recipient)
    if s.scalar(select(Mailbox.active).where(Mailbox.address == canonical)) is False:
        return DeliveryPlan(canonical, refusal=Refusal.DISABLED)
    _walk(s, walk, [recipient], depth_limit)
    plan = DeliveryPlan(
        canonical,
        tuple(walk.mailboxes.values()),
        tuple(walk.forwards),
        owners=frozenset(walk.owners),
        sender_vouched=walk.sender_vouched,
    )
    if plan.deliverable:
        return plan
    if walk.refused_sender:
        return DeliveryPlan(canonical, refusal=Refusal.SENDER_NOT_ALLOWED)
    return DeliveryPlan(canonical, refusal=Refusal.LOOP if walk.looped else Refusal.NO_SUCH_USER)


def _hosted_domain_in_walk(s: Session, walk: _Walk, name: str) -> Domain | None:
    """hosted_domain, asked once per domain in one expansion."""
    if name not in walk.domains:
        walk.domains[name] = hosted_domain(s, name)
    return walk.domains[name]


def _walk(s: Session, walk: _Walk, level: list[_Pending], depth_limit: int) -> None:
    for _depth in range(depth_limit + 1):
        pending: list[_Pending] = []
        for address in level:
            key = str(address)
            if key in walk.seen:
                walk.looped = True
            else:
                walk.seen.add(key)
                pending.append(address)
        if not pending:
            return
        level = _expand_level(s, walk, pending)
    if level:
        walk.looped = True


def _expand_level(s: Session, walk: _Walk, addresses: list[_Pending]) -> list[_Pending]:
    """Deliver what is final at this level; return the addresses the next level must expand."""
    local: list[Address] = []
    for pending in addresses:
        address = pending if isinstance(pending, Address) else parse_address(pending)
        domain = _hosted_domain_in_walk(s, walk, address.domain)
        if domain is None:
            walk.forwards.append(str(pending))  # as stored: only a hosted recipient comes parsed
        elif domain.active:
            local.append(Address(address.local, domain.name))
    found = _lookup(s, [str(a) for a in local])
    found.update(_fallbacks(s, walk, [a for a in local if str(a) not in found]))
    following: list[_Pending] = []
    for address in local:
        following.extend(_deliver_entry(s, walk, found.get(str(address))))
    return following


def _lookup(s: Session, addresses: list[str]) -> dict[str, Entry]:
    """Mailboxes (with their forwards), aliases and groups with exactly these addresses, in three indexed queries."""
    if not addresses:
        return {}
    found: dict[str, Entry] = {}
    # Forwards come in the same query (a join), so a mailbox costs no extra round trip.
    mailboxes = select(Mailbox).where(Mailbox.address.in_(addresses)).options(joinedload(Mailbox.forwards))
    found.update({m.address: m for m in s.scalars(mailboxes).unique()})
    found.update({a.source: a for a in s.scalars(select(Alias).where(Alias.source.in_(addresses)))})
    found.update({g.address: g for g in s.scalars(select(GroupMailbox).where(GroupMailbox.address.in_(addresses)))})
    return found


def _fallbacks(s: Session, walk: _Walk, unresolved: list[Address]) -> dict[str, Entry]:
    """For addresses with no exact entry: the `+tag`-less address, then the catch-all, then postmaster."""
    untagged = {
        str(a): f"{a.local.split(RECIPIENT_DELIMITER, 1)[0]}@{a.domain}"
        for a in unresolved
        if RECIPIENT_DELIMITER in a.local.strip(RECIPIENT_DELIMITER)
    }
    catch_alls = {str(a): f"@{a.domain}" for a in unresolved} if walk.use_catch_all else {}
    found = _lookup(s, list(untagged.values()) + list(catch_alls.values()))
    found.pop(walk.ignored or "", None)
    chosen: dict[str, Entry] = {}
    for address in unresolved:
        key = str(address)
        entry = found.get(untagged.get(key, "")) or found.get(catch_alls.get(key, ""))
        if entry is None and address.local == "postmaster":
            entry = _postmaster_targets(s, address.domain)
        if entry is not None:
            chosen[key] = entry
    return chosen


def _postmaster_targets(s: Session, domain_name: str) -> tuple[str, ...] | None:
    """The domain's active managers, or else the active global admins."""
    managers = select(Mailbox.address).join(domain_manager, domain_manager.c.mailbox_id == Mailbox.id)
    managers = managers.join(Domain, Domain.id == domain_manager.c.domain_id).where(Domain.name == domain_name)
    targets = tuple(s.scalars(managers.where(Mailbox.active)))
    if not targets:
        targets = tuple(s.scalars(select(Mailbox.address).where(Mailbox.is_global_admin, Mailbox.active)))
    return targets or None


def _deliver_entry(s: Session, walk: _Walk, entry: Entry | None) -> list[str]:
    if entry is None:
        return []
    if isinstance(entry, tuple):
        return list(entry)
    if isinstance(entry, Mailbox):
        if not entry.active:
            return []
        walk.owners.add(entry.id)
        forwards = _usable_forwards(s, walk, entry)
        if (entry.keep_copy or not forwards) and entry.id not in walk.mailboxes:
            walk.mailboxes[entry.id] = LocalMailbox(entry.id, entry.address, entry.quota_bytes, entry.used_bytes)
        return forwards
    if isinstance(entry, GroupMailbox):
        if not _sender_may_write(entry, walk.sender):
            walk.refused_sender = True
            return []
        walk.sender_vouched |= entry.policy is not SendingPolicy.ANYONE
        return [member.address for member in entry.members]
    return [destination.address for destination in entry.destinations]


def _usable_forwards(s: Session, walk: _Walk, mailbox: Mailbox) -> list[str]:
    """The mailbox's forwards, less those to outside domains when its domain forbids them: the
    mail they would have taken stays in the mailbox (a mailbox left with no forward keeps a copy)."""
    forwards = [forward.address for forward in mailbox.forwards]
    if not forwards:
        return forwards
    own_domain = _hosted_domain_in_walk(s, walk, mailbox.address.rpartition("@")[2])
    if own_domain is None or not own_domain.forbid_external_forwarding:
        return forwards
    return [address for address in forwards if _hosted_domain_in_walk(s, walk, address.rpartition("@")[2])]


def _sender_may_write(group: GroupMailbox, sender: Address | None) -> bool:
    if group.policy is SendingPolicy.ANYONE:
        return True
    if sender is None:
        return False
    if group.policy is SendingPolicy.DOMAIN:
        return sender.domain == group.address.rpartition("@")[2]
    return str(sender) in {member.address for member in group.members}


def may_send_as(db: Database, user_address: str, from_address: str) -> bool:
    """May the logged-in user use `from_address` as sender: their own address (also in an alias
    domain), an explicit alias that delivers to them, or a group that lets them write to it and
    that they belong to or share a domain with. A catch-all grants nothing."""
    try:
        user, sender = parse_address(user_address), parse_address(from_address)
    except InvalidAddress:
        return False
    if sender == user:  # what the rest answers for it, with one statement on the DBAPI cursor
        with rawsql.cursor(db, transaction=False) as cursor:
            return _MAILBOX_EXISTS.execute(cursor, {"address": str(user)}).fetchone() is not None
    with db.read_session.begin() as s:
        user_mailbox = s.scalars(select(Mailbox).where(Mailbox.address == str(user))).one_or_none()
        domain = hosted_domain(s, sender.domain)
        if user_mailbox is None or domain is None:
            return False
        canonical = f"{sender.local}@{domain.name}"
        if canonical == user_mailbox.address:
            return True
        group = s.scalars(select(GroupMailbox).where(GroupMailbox.address == canonical)).one_or_none()
        if group is not None:
            member = user_mailbox.address in {m.address for m in group.members}
            same_domain = group.domain_id == user_mailbox.domain_id
            return _sender_may_write(group, user) and (member or same_domain)
        plan = plan_for(s, Address(sender.local, domain.name), user, db.settings.alias_depth_limit, use_catch_all=False)
        return user_mailbox.id in plan.owners


def is_hosted_domain(db: Database, domain: str) -> bool:
    with db.read_session.begin() as s:
        return hosted_domain(s, domain) is not None


def unknown_hosted_addresses(s: Session, addresses: list[str], *, saving: str | None = None) -> list[str]:
    """Those of `addresses` in a hosted domain (or alias domain) that nothing answers for: no
    mailbox, alias or group (enabled or not) by the precedence of `plan_for` (the exact address,
    the one without its `+tag`, the catch-all, postmaster). `saving` is the alias, group or mailbox
    whose destinations these are: its own entry vouches for none of them. Checked when saving
    destinations, so that mail to them is not accepted only to bounce."""
    walk = _Walk(sender=None, use_catch_all=True, ignored=saving)
    hosted: dict[str, Address] = {}
    for text in addresses:
        address = parse_address(text)
        domain = _hosted_domain_in_walk(s, walk, address.domain)
        if domain is not None:
            hosted[text] = Address(address.local, domain.name)
    found = _lookup(s, [str(address) for address in hosted.values()])
    found.pop(saving or "", None)
    found.update(_fallbacks(s, walk, [address for address in hosted.values() if str(address) not in found]))
    return [text for text, address in hosted.items() if str(address) not in found]


def forwards_in_loop(s: Session, source: str, depth_limit: int) -> bool:
    """Does following `source`'s aliases, groups and mailbox forwards lead back to `source`?
    (checked when saving them)"""
    level, seen = [source], set()
    for _depth in range(depth_limit + 1):
        found = _lookup(s, level)
        following: list[str] = []
        for address in level:
            entry = found.get(address)
            if isinstance(entry, GroupMailbox):
                following.extend(member.address for member in entry.members)
            elif isinstance(entry, Alias):
                following.extend(destination.address for destination in entry.destinations)
            elif isinstance(entry, Mailbox):
                following.extend(forward.address for forward in entry.forwards)
        if source in following:
            return True
        level = [address for address in following if address not in seen]
        seen.update(level)
        if not level:
            return False
    return True
