"""Use cases for domains and their alias domains."""
from __future__ import annotations

import shutil

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.accounts import audit
from shared.accounts.tokens import revoke_tokens_of_domain
from shared.accounts.views import Actor, DomainView
from shared.errors import Conflict, InvalidValue, NotFound
from shared.mail.addresses import normalise_domain
from shared.storage.db import Database
from shared.storage.lookups import count_in_domain, domain_by_name, hosted_domain
from shared.storage.models import Alias, AliasDomain, Domain, GroupMailbox, Mailbox

LIMIT_FIELDS = ("max_mailboxes", "max_aliases", "quota_bytes", "default_mailbox_quota")


def _check_limits(limits: dict[str, int | None]) -> None:
    for field, value in limits.items():
        if value is not None and value < 0:
            raise InvalidValue(f"{field} must not be negative")


def _view(s: Session, domain: Domain) -> DomainView:
    mailboxes = count_in_domain(s, Mailbox.domain_id, domain.id)
    aliases = count_in_domain(s, Alias.domain_id, domain.id) + count_in_domain(s, GroupMailbox.domain_id, domain.id)
    return DomainView.of(domain, mailboxes, aliases)


def create_domain(
    db: Database,
    name: str,
    *,
    max_mailboxes: int = 0,
    max_aliases: int = 0,
    quota_bytes: int = 0,
    default_mailbox_quota: int = 0,
    actor: Actor | None = None,
) -> DomainView:
    ascii_name = normalise_domain(name)
    limits = dict(
        max_mailboxes=max_mailboxes,
        max_aliases=max_aliases,
        quota_bytes=quota_bytes,
        default_mailbox_quota=default_mailbox_quota,
    )
    _check_limits(limits)
    with db.session.begin() as s:
        if hosted_domain(s, ascii_name) is not None:
            raise Conflict(f"domain already exists: {ascii_name}")
        domain = Domain(name=ascii_name, **limits)
        s.add(domain)
        s.flush()
        audit.record(s, actor, "domain.create", ascii_name, ascii_name)
        return _view(s, domain)


def update_domain(
    db: Database,
    name: str,
    *,
    active: bool | None = None,
    max_mailboxes: int | None = None,
    max_aliases: int | None = None,
    quota_bytes: int | None = None,
    default_mailbox_quota: int | None = None,
    actor: Actor | None = None,
) -> DomainView:
    limits = dict(
        max_mailboxes=max_mailboxes,
        max_aliases=max_aliases,
        quota_bytes=quota_bytes,
        default_mailbox_quota=default_mailbox_quota,
    )
    _check_limits(limits)
    with db.session.begin() as s:
        domain = domain_by_name(s, normalise_domain(name), for_update=True)
        changes = {field: value for field, value in limits.items() if value is not None}
        if active is not None:
            changes["active"] = active
        for field, value in changes.items():
            setattr(domain, field, value)
        detail = ", ".join(f"{field}={value}" for field, value in changes.items())
        audit.record(s, actor, "domain.update", domain.name, domain.name, detail)
        return _view(s, domain)


def remove_domain(db: Database, name: str, actor: Actor | None = None) -> None:
    """Delete the domain with its mailboxes, aliases and groups, and its stored mail."""
    ascii_name = normalise_domain(name)
    with db.session.begin() as s:
        domain = domain_by_name(s, ascii_name, for_update=True)
        revoke_tokens_of_domain(s, domain.id)
        s.delete(domain)
        audit.record(s, actor, "domain.remove", ascii_name, ascii_name)
    shutil.rmtree(db.settings.mail_root / ascii_name, ignore_errors=True)


def get_domain(db: Database, name: str) -> DomainView:
    with db.session.begin() as s:
        return _view(s, domain_by_name(s, normalise_domain(name)))


def list_domains(db: Database, *, names: list[str] | None = None) -> list[DomainView]:
    """All domains, or only `names` (a manager's domains), with their counts in two grouped queries."""
    query = select(Domain).order_by(Domain.name)
    if names is not None:
        query = query.where(Domain.name.in_(names))
    with db.session.begin() as s:
        domains = list(s.scalars(query))
        mailboxes = _counts_by_domain(s, Mailbox.domain_id)
        aliases = _counts_by_domain(s, Alias.domain_id)
        groups = _counts_by_domain(s, GroupMailbox.domain_id)
        return [
            DomainView.of(d, mailboxes.get(d.id, 0), aliases.get(d.id, 0) + groups.get(d.id, 0)) for d in domains
        ]


def _counts_by_domain(s: Session, column: object) -> dict[int, int]:
    return {key: count for key, count in s.execute(select(column, func.count()).group_by(column))}  # type: ignore[call-overload]


def add_alias_domain(db: Database, alias_name: str, target: str, actor: Actor | None = None) -> DomainView:
    alias_ascii, target_ascii = normalise_domain(alias_name), normalise_domain(target)
    with db.session.begin() as s:
        domain = domain_by_name(s, target_ascii, for_update=True)
        if hosted_domain(s, alias_ascii) is not None:
            raise Conflict(f"domain already exists: {alias_ascii}")
        domain.alias_domains.append(AliasDomain(name=alias_ascii))
        s.flush()
        audit.record(s, actor, "alias_domain.create", alias_ascii, target_ascii)
        return _view(s, domain)


def remove_alias_domain(db: Database, alias_name: str, actor: Actor | None = None) -> None:
    alias_ascii = normalise_domain(alias_name)
    with db.session.begin() as s:
        alias_domain = s.scalars(select(AliasDomain).where(AliasDomain.name == alias_ascii)).one_or_none()
        if alias_domain is None:
            raise NotFound(f"unknown alias domain: {alias_ascii}")
        audit.record(s, actor, "alias_domain.remove", alias_ascii, alias_domain.domain.name)
        s.delete(alias_domain)
