"""Read-only figures for the dashboard and the metrics endpoint, in a few aggregate queries."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVarTuple, Unpack

from sqlalchemy import Select, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute, selectinload

from shared.accounts.permissions import require_manager
from shared.accounts.views import Actor, MailboxView
from shared.storage.db import Database
from shared.storage.models import Alias, Domain, GroupMailbox, Mailbox

Row = TypeVarTuple("Row")


@dataclass(frozen=True)
class Totals:
    domains: int
    active_domains: int
    mailboxes: int
    active_mailboxes: int
    aliases: int
    groups: int
    used_bytes: int
    messages: int


def _in_domains(query: Select[Unpack[Row]], column: InstrumentedAttribute[int], domains: list[str] | None) -> Select[Unpack[Row]]:
    if domains is None:
        return query
    return query.where(column.in_(select(Domain.id).where(Domain.name.in_(domains))))


def totals(db: Database, *, actor: Actor) -> Totals:
    """Counts and storage over the domains the actor manages (all of them for a global admin)."""
    require_manager(actor.scope)
    domains = actor.scope.domain_filter()
    mailbox_query = _in_domains(
        select(
            func.count(Mailbox.id),
            func.count(Mailbox.id).filter(Mailbox.active.is_(True)),
            func.coalesce(func.sum(Mailbox.used_bytes), 0),
            func.coalesce(func.sum(Mailbox.message_count), 0),
        ),
        Mailbox.domain_id,
        domains,
    )
    domain_query = _in_domains(
        select(func.count(Domain.id), func.count(Domain.id).filter(Domain.active.is_(True))), Domain.id, domains
    )
    with db.session.begin() as s:
        mailboxes, active_mailboxes, used, messages = s.execute(mailbox_query).one()
        domain_count, active_domains = s.execute(domain_query).one()
        aliases = s.scalar(_in_domains(select(func.count(Alias.id)), Alias.domain_id, domains)) or 0
        groups = s.scalar(_in_domains(select(func.count(GroupMailbox.id)), GroupMailbox.domain_id, domains)) or 0
    return Totals(domain_count, active_domains, mailboxes, active_mailboxes, aliases, groups, int(used), int(messages))


def mailboxes_near_quota(db: Database, *, actor: Actor, threshold: float = 0.9, limit: int = 10) -> list[MailboxView]:
    """Mailboxes of the actor's domains with a quota that are at least `threshold` full, fullest first."""
    require_manager(actor.scope)
    domains = actor.scope.domain_filter()
    fill = Mailbox.used_bytes * 1.0 / Mailbox.quota_bytes
    query = _in_domains(
        select(Mailbox).where(Mailbox.quota_bytes > 0, Mailbox.used_bytes >= Mailbox.quota_bytes * threshold),
        Mailbox.domain_id,
        domains,
    )
    query = query.order_by(fill.desc(), Mailbox.address).limit(limit)
    query = query.options(selectinload(Mailbox.domain), selectinload(Mailbox.managed_domains))
    with db.session.begin() as s:
        return [MailboxView.of(m) for m in s.scalars(query)]


def is_database_reachable(db: Database) -> bool:
    """For health checks: can we run a query right now?"""
    try:
        with db.session.begin() as s:
            s.execute(select(1))
    except SQLAlchemyError:
        return False
    return True
