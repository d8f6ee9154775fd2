"""Use cases for domains and their alias domains."""
from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from shared.accounts import audit
from shared.accounts.permissions import (
    domain_in_scope,
    require_global_admin,
    require_write,
)
from shared.accounts.tokens import revoke_tokens_of_domain
from shared.accounts.views import Actor, DomainView
from shared.errors import N_, Conflict, InvalidValue, NotFound
from shared.mail import dkimkeys
from shared.mail.addresses import domain_to_unicode, normalise_domain
from shared.storage.db import Database
from shared.storage.lookups import count_in_domain, domain_by_name, hosted_domain
from shared.storage.models import Alias, AliasDomain, Domain, GroupMailbox, Mailbox

if TYPE_CHECKING:
    from shared.mail.dnshealth import DnsCheck

LIMIT_FIELDS = ("max_mailboxes", "max_aliases", "quota_bytes", "default_mailbox_quota")


def _checked_limits(*values: int | None) -> dict[str, int | None]:
    """The limits given in LIMIT_FIELDS order, by field name; None (no change) passes, a negative one is refused."""
    limits = dict(zip(LIMIT_FIELDS, values, strict=True))
    for field, value in limits.items():
        if value is not None and value < 0:
            raise InvalidValue(N_("%(field)s must not be negative"), field=field)
    return limits


def _view(s: Session, domain: Domain) -> DomainView:
    return DomainView.of(domain, _mailboxes_held(s, domain), _aliases_held(s, domain))


def create_domain(
    db: Database,
    name: str,
    *,
    max_mailboxes: int = 0,
    max_aliases: int = 0,
    quota_bytes: int = 0,
    default_mailbox_quota: int = 0,
    require_2fa: bool = False,
    actor: Actor,
) -> DomainView:
    """Host a new domain: only global admins may."""
    with db.session.begin() as s:
        _require_domain_admin(actor)
        ascii_name = normalise_domain(name)
        limits = _checked_limits(max_mailboxes, max_aliases, quota_bytes, default_mailbox_quota)
        if hosted_domain(s, ascii_name) is not None:
            raise Conflict(N_("domain already exists: %(name)s"), name=ascii_name)
        domain = Domain(name=ascii_name, require_2fa=require_2fa, **limits)
        s.add(domain)
        s.flush()
        audit.record(s, actor, "domain.create", ascii_name, ascii_name, f"require_2fa={require_2fa}" if require_2fa else "")
        return _view(s, domain)


def update_domain(
    db: Database,
    name: str,
    *,
    active: bool | None = None,
    inbound_checks: bool | None = None,
    forbid_external_forwarding: bool | None = None,
    require_2fa: bool | None = None,
    max_mailboxes: int | None = None,
    max_aliases: int | None = None,
    quota_bytes: int | None = None,
    default_mailbox_quota: int | None = None,
    actor: Actor,
) -> DomainView:
    """Change a domain's limits, switch it on or off, switch the checks of mail arriving on
    the MX for it (authentication, blocklists, content) on or off, require its users to sign in
    to the portal with a second factor, or forbid its mailboxes to forward to outside domains:
    only global admins may. A mailbox or alias limit below what the domain holds is refused."""
    with db.session.begin() as s:
        domain = _administered_domain(s, actor, name)
        limits = _checked_limits(max_mailboxes, max_aliases, quota_bytes, default_mailbox_quota)
        changes = {field: value for field, value in limits.items() if value is not None}
        _refuse_limits_below_held(s, domain, changes)
        switches = {
            "active": active,
            "inbound_checks": inbound_checks,
            "require_2fa": require_2fa,
            "forbid_external_forwarding": forbid_external_forwarding,
        }
        changes.update({field: value for field, value in switches.items() if value is not None})
        for field, value in changes.items():
            setattr(domain, field, value)
        detail = ", ".join(f"{field}={value}" for field, value in changes.items())
        audit.record(s, actor, "domain.update", domain.name, domain.name, detail)
        return _view(s, domain)


def _refuse_limits_below_held(s: Session, domain: Domain, changes: dict[str, int]) -> None:
    """A changed mailbox or alias limit must leave room for what the domain holds (groups count
    as aliases, as when one is created). An unchanged limit passes, so a form that sends every
    field back still saves a domain that got over its limit before this rule."""
    held = (
        ("max_mailboxes", N_("%(domain)s holds %(held)s mailboxes; the limit cannot be %(limit)s"), _mailboxes_held),
        ("max_aliases", N_("%(domain)s holds %(held)s aliases and groups; the limit cannot be %(limit)s"), _aliases_held),
    )
    for field, message, count in held:
        limit = changes.get(field)
        if limit and limit != getattr(domain, field) and limit < (holds := count(s, domain)):
            raise InvalidValue(message, domain=domain.name, held=holds, limit=limit)


def _mailboxes_held(s: Session, domain: Domain) -> int:
    return count_in_domain(s, Mailbox.domain_id, domain.id)


def _aliases_held(s: Session, domain: Domain) -> int:
    return count_in_domain(s, Alias.domain_id, domain.id) + count_in_domain(s, GroupMailbox.domain_id, domain.id)


def remove_domain(db: Database, name: str, *, actor: Actor) -> None:
    """Delete the domain with its mailboxes, aliases and groups, and its stored mail (global admins only)."""
    with db.session.begin() as s:
        domain = _administered_domain(s, actor, name)
        ascii_name = domain.name
        revoke_tokens_of_domain(s, domain.id)
        s.delete(domain)
        audit.record(s, actor, "domain.remove", ascii_name, ascii_name)
    shutil.rmtree(db.settings.mail_root / ascii_name, ignore_errors=True)


def _require_domain_admin(actor: Actor) -> None:
    require_write(actor.scope)
    require_global_admin(actor.scope)


def _administered_domain(s: Session, actor: Actor, name: str) -> Domain:
    """The domain, locked for a change by a global admin. One outside the actor's domains is
    NotFound before the role is checked, as if it did not exist."""
    ascii_name = domain_in_scope(actor.scope, name)
    _require_domain_admin(actor)
    return domain_by_name(s, ascii_name, for_update=True)


def get_domain(db: Database, name: str, *, actor: Actor) -> DomainView:
    """One of the actor's domains (any, for a global admin)."""
    with db.session.begin() as s:
        return _view(s, domain_by_name(s, domain_in_scope(actor.scope, name)))


def check_domain_dns(db: Database, name: str, *, actor: Actor) -> list[DnsCheck]:
    """One of the actor's domains: each record it should publish against what the resolver returns.
    The lookups run outside the transaction, which only says whether the actor sees the domain."""
    with db.session.begin() as s:
        domain = domain_by_name(s, domain_in_scope(actor.scope, name)).name
    # Imported here: dnspython is a tenth of every other CLI command's start-up.
    from shared.mail import dnshealth

    return dnshealth.check_domain(db.settings, domain, dkimkeys.dns_record(db.settings, domain))


def _visible(actor: Actor) -> Select[Domain]:
    query = select(Domain).order_by(Domain.name)
    names = actor.scope.domain_filter()
    return query if names is None else query.where(Domain.name.in_(names))


def list_domains(db: Database, *, actor: Actor) -> list[DomainView]:
    """The domains the actor sees, with their counts in two grouped queries."""
    query = _visible(actor)
    with db.session.begin() as s:
        domains = list(s.scalars(query))
        mailboxes = _counts_by_domain(s, Mailbox.domain_id)
        aliases = _counts_by_domain(s, Alias.domain_id)
        groups = _counts_by_domain(s, GroupMailbox.domain_id)
        return [
            DomainView.of(d, mailboxes.get(d.id, 0), aliases.get(d.id, 0) + groups.get(d.id, 0)) for d in domains
        ]


def list_domain_names(db: Database, *, actor: Actor) -> list[tuple[str, str]]:
    """(name, display name) of the domains the actor sees, for pickers: no counting, one indexed query."""
    query = _visible(actor).with_only_columns(Domain.name)
    with db.session.begin() as s:
        return [(name, domain_to_unicode(name)) for name in s.scalars(query)]


def _counts_by_domain(s: Session, column: object) -> dict[int, int]:
    return {key: count for key, count in s.execute(select(column, func.count()).group_by(column))}  # type: ignore[call-overload]


def add_alias_domain(db: Database, alias_name: str, target: str, *, actor: Actor) -> DomainView:
    """Receive mail for `alias_name` as for `target` (global admins only)."""
    with db.session.begin() as s:
        domain = _administered_domain(s, actor, target)
        alias_ascii, target_ascii = normalise_domain(alias_name), domain.name
        if hosted_domain(s, alias_ascii) is not None:
            raise Conflict(N_("domain already exists: %(name)s"), name=alias_ascii)
        domain.alias_domains.append(AliasDomain(name=alias_ascii))
        s.flush()
        audit.record(s, actor, "alias_domain.create", alias_ascii, target_ascii)
        return _view(s, domain)


def remove_alias_domain(db: Database, alias_name: str, *, actor: Actor, of_domain: str | None = None) -> None:
    """Stop receiving mail for an alias domain (global admins only); with `of_domain`, only
    one of that domain's alias domains (another is NotFound)."""
    with db.session.begin() as s:
        target = _administered_domain(s, actor, of_domain) if of_domain is not None else None
        if target is None:
            _require_domain_admin(actor)
        alias_ascii = domain_in_scope(actor.scope, alias_name)  # normalises; a global admin covers every name
        alias_domain = s.scalars(select(AliasDomain).where(AliasDomain.name == alias_ascii)).one_or_none()
        if alias_domain is None or (target is not None and alias_domain.domain_id != target.id):
            raise NotFound(N_("unknown alias domain: %(name)s"), name=alias_ascii)
        audit.record(s, actor, "alias_domain.remove", alias_ascii, alias_domain.domain.name)
        s.delete(alias_domain)
