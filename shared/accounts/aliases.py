"""Use cases for aliases (incl. catch-alls) and group mailboxes."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.accounts import audit
from shared.accounts.permissions import (
    Scope,
    address_in_scope,
    alias_source_in_scope,
    listed_domains,
    require_write,
)
from shared.accounts.views import Actor, AliasView, GroupView
from shared.errors import N_, InvalidAddress, InvalidValue, LimitExceeded, MessageId, NotFound
from shared.mail.addresses import domain_part, parse_address, stored_alias_source
from shared.mail.routing import forwards_in_loop, unknown_hosted_addresses
from shared.storage.db import Database
from shared.storage.lookups import count_in_domain, domain_by_name, ensure_address_free
from shared.storage.models import (
    Alias,
    AliasDestination,
    Domain,
    GroupMailbox,
    GroupMember,
    SendingPolicy,
)


def _normalised_targets(addresses: Iterable[str], missing: MessageId) -> list[str]:
    targets: list[str] = []
    for text in addresses:
        target = str(parse_address(text))
        if target not in targets:
            targets.append(target)
    if not targets:
        raise InvalidValue(missing)
    return targets


def refuse_unknown_hosted(s: Session, targets: list[str], saving: str) -> None:
    """A destination in a hosted domain must exist (mail to it would be accepted, then bounce);
    one in another domain is the remote server's business."""
    unknown = unknown_hosted_addresses(s, targets, saving=saving)
    if unknown:
        raise InvalidAddress(N_("no mailbox, alias or group at %(addresses)s"), addresses=", ".join(unknown))


def _claim_address(s: Session, domain_name: str, address: str) -> Domain:
    """Lock the domain, check its alias limit (groups count as aliases) and that the address is free."""
    domain = domain_by_name(s, domain_name, for_update=True)
    used = count_in_domain(s, Alias.domain_id, domain.id) + count_in_domain(s, GroupMailbox.domain_id, domain.id)
    if domain.max_aliases and used >= domain.max_aliases:
        raise LimitExceeded(
            N_("%(domain)s already has its maximum of %(limit)s aliases"), domain=domain.name, limit=domain.max_aliases
        )
    ensure_address_free(s, address)
    return domain


def create_alias(db: Database, source: str, destinations: Iterable[str], *, actor: Actor) -> AliasView:
    """`source` is an address or `@domain` (catch-all) of the actor's domains; destinations may be local or external."""
    key = stored_alias_source(source)
    domain_name = domain_part(key)
    with db.session.begin() as s:
        _require_change(actor.scope, alias_source_in_scope, key)
        targets = _normalised_targets(destinations, N_("give at least one destination"))
        if key in targets:
            raise InvalidValue(N_("%(address)s cannot forward to itself"), address=key)
        domain = _claim_address(s, domain_name, key)
        refuse_unknown_hosted(s, targets, key)
        alias = Alias(domain_id=domain.id, source=key)
        alias.destinations = [AliasDestination(position=i, address=t) for i, t in enumerate(targets)]
        s.add(alias)
        _refuse_loop(db, s, key)
        audit.record(s, actor, "alias.create", key, domain.name, " ".join(targets))
        return AliasView.of(alias)


def update_alias(db: Database, source: str, destinations: Iterable[str], *, actor: Actor) -> AliasView:
    with db.session.begin() as s:
        key = _require_change(actor.scope, alias_source_in_scope, source)
        targets = _normalised_targets(destinations, N_("give at least one destination"))
        alias = _alias(s, key)
        refuse_unknown_hosted(s, targets, key)
        alias.destinations = []
        s.flush()
        alias.destinations = [AliasDestination(position=i, address=t) for i, t in enumerate(targets)]
        _refuse_loop(db, s, key)
        audit.record(s, actor, "alias.update", key, domain_part(key), " ".join(targets))
        return AliasView.of(alias)


def _refuse_loop(db: Database, s: Session, key: str) -> None:
    s.flush()
    limit = db.settings.alias_depth_limit
    if forwards_in_loop(s, key, limit):
        raise InvalidValue(N_("%(address)s would forward in a loop or through more than %(limit)s aliases"), address=key, limit=limit)


def _require_change(scope: Scope, in_scope: Callable[[Scope, str], object], text: str) -> str:
    """The stored key of an alias or group the scope may change (NotFound outside its domains)."""
    require_write(scope)
    return str(in_scope(scope, text))


def _alias(s: Session, key: str) -> Alias:
    alias = s.scalars(select(Alias).where(Alias.source == key)).one_or_none()
    if alias is None:
        raise NotFound(N_("unknown alias: %(name)s"), name=key)
    return alias


def get_alias(db: Database, source: str, *, actor: Actor) -> AliasView:
    with db.session.begin() as s:
        return AliasView.of(_alias(s, alias_source_in_scope(actor.scope, source)))


def list_aliases(db: Database, domain: str | None = None, *, actor: Actor) -> list[AliasView]:
    """The aliases the actor sees (of `domain`)."""
    query = select(Alias).where(*listed_domains(actor.scope, Alias.domain_id, domain)).order_by(Alias.source)
    with db.session.begin() as s:
        return [AliasView.of(alias) for alias in s.scalars(query)]


def remove_alias(db: Database, source: str, *, actor: Actor) -> str:
    """Delete an alias of the actor's domains; returns its source as stored."""
    with db.session.begin() as s:
        key = _require_change(actor.scope, alias_source_in_scope, source)
        alias = _alias(s, key)
        audit.record(s, actor, "alias.remove", key, domain_part(key))
        s.delete(alias)
    return key


def _policy(text: str) -> SendingPolicy:
    try:
        return SendingPolicy(text)
    except ValueError:
        raise InvalidValue(N_("unknown sending policy %(policy)r (use anyone, domain or members)"), policy=text) from None


def create_group(
    db: Database, address: str, members: Iterable[str], *, policy: str = "anyone", actor: Actor
) -> GroupView:
    """A group mailbox at an address of the actor's domains."""
    parsed = parse_address(address)
    with db.session.begin() as s:
        _require_change(actor.scope, address_in_scope, str(parsed))
        targets = _normalised_targets(members, N_("give at least one member"))
        sending = _policy(policy)
        if str(parsed) in targets:
            raise InvalidValue(N_("%(address)s cannot be a member of itself"), address=parsed)
        domain = _claim_address(s, parsed.domain, str(parsed))
        refuse_unknown_hosted(s, targets, str(parsed))
        group = GroupMailbox(domain_id=domain.id, address=str(parsed), policy=sending)
        group.members = [GroupMember(address=member) for member in sorted(targets)]
        s.add(group)
        _refuse_loop(db, s, group.address)
        audit.record(s, actor, "group.create", group.address, domain.name, f"policy={policy} " + " ".join(targets))
        return GroupView.of(group)


def _group(s: Session, address: str) -> GroupMailbox:
    group = s.scalars(select(GroupMailbox).where(GroupMailbox.address == address)).one_or_none()
    if group is None:
        raise NotFound(N_("unknown group: %(name)s"), name=address)
    return group


def update_group(
    db: Database,
    address: str,
    *,
    members: Iterable[str] | None = None,
    policy: str | None = None,
    actor: Actor,
) -> GroupView:
    with db.session.begin() as s:
        key = _require_change(actor.scope, address_in_scope, address)
        targets = _normalised_targets(members, N_("give at least one member")) if members is not None else None
        sending = _policy(policy) if policy is not None else None
        group = _group(s, key)
        if targets is not None:
            refuse_unknown_hosted(s, targets, key)
            group.members = []
            s.flush()
            group.members = [GroupMember(address=member) for member in sorted(targets)]
        if sending is not None:
            group.policy = sending
        _refuse_loop(db, s, key)
        audit.record(s, actor, "group.update", key, domain_part(key), f"policy={group.policy.value}")
        return GroupView.of(group)


def get_group(db: Database, address: str, *, actor: Actor) -> GroupView:
    with db.session.begin() as s:
        return GroupView.of(_group(s, str(address_in_scope(actor.scope, address))))


def list_groups(db: Database, domain: str | None = None, *, actor: Actor) -> list[GroupView]:
    """The groups the actor sees (of `domain`)."""
    query = select(GroupMailbox).where(*listed_domains(actor.scope, GroupMailbox.domain_id, domain))
    query = query.order_by(GroupMailbox.address)
    with db.session.begin() as s:
        return [GroupView.of(group) for group in s.scalars(query)]


def remove_group(db: Database, address: str, *, actor: Actor) -> str:
    """Delete a group of the actor's domains; returns its address as stored."""
    with db.session.begin() as s:
        key = _require_change(actor.scope, address_in_scope, address)
        group = _group(s, key)
        audit.record(s, actor, "group.remove", key, domain_part(key))
        s.delete(group)
    return key
