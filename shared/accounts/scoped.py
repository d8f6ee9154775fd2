"""Account reads and role changes narrowed to a Scope: the glue of shared.accounts.permissions and the use cases."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from shared import accounts
from shared.accounts.mailboxes import search_mailboxes
from shared.accounts.permissions import (
    Scope,
    address_in_scope,
    domain_in_scope,
    refuse_self_lockout,
    require_administer,
    require_global_admin,
)
from shared.accounts.views import Actor, DomainView, MailboxPage, MailboxView
from shared.mail.addresses import domain_to_unicode
from shared.storage.db import Database
from shared.storage.models import Domain


def visible_domain_names(db: Database, scope: Scope) -> list[tuple[str, str]]:
    """(name, display name) of the domains the scope sees, for pickers: no counting, one indexed query."""
    query = select(Domain.name).order_by(Domain.name)
    names = scope.domain_filter()
    if names is not None:
        query = query.where(Domain.name.in_(names))
    with db.session.begin() as s:
        return [(name, domain_to_unicode(name)) for name in s.scalars(query)]


def scoped_mailboxes(
    db: Database,
    scope: Scope,
    domain: str | None = None,
    *,
    search: str | None = None,
    after: str | None = None,
    before: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> MailboxPage:
    """A page of search_mailboxes within the scope's domains (`domain`, if given, must be one)."""
    return search_mailboxes(
        db,
        domain_in_scope(scope, domain) if domain else None,
        search=search,
        domains=scope.domain_filter(),
        after=after,
        before=before,
        offset=offset,
        limit=limit,
    )


def scoped_domain(db: Database, scope: Scope, name: str) -> DomainView:
    return accounts.get_domain(db, domain_in_scope(scope, name))


def scoped_mailbox(db: Database, scope: Scope, text: str) -> MailboxView:
    """A mailbox of one of the scope's domains (for reading)."""
    return accounts.get_mailbox(db, str(address_in_scope(scope, text)))


def administered_mailbox(db: Database, scope: Scope, text: str) -> MailboxView:
    """A mailbox the scope may change: in its domains and with no rights beyond its own."""
    mailbox = scoped_mailbox(db, scope, text)
    require_administer(scope, is_global_admin=mailbox.is_global_admin, managed_domains=mailbox.managed_domains)
    return mailbox


def set_roles(
    db: Database,
    scope: Scope,
    mailbox: MailboxView,
    *,
    global_admin: bool | None = None,
    domains: Iterable[str] | None = None,
    actor: Actor | None = None,
) -> MailboxView:
    """Make the mailbox's roles match, changing only what `scope` itself controls."""
    drops_admin = global_admin is False and mailbox.is_global_admin
    refuse_self_lockout(scope, mailbox.address, active=None, drop_global_admin=drops_admin)
    if global_admin is not None and global_admin != mailbox.is_global_admin:
        require_global_admin(scope)
        change = accounts.grant_role if global_admin else accounts.revoke_role
        mailbox = change(db, mailbox.address, global_admin=True, actor=actor)
    if domains is None:
        return mailbox
    wanted = {domain_in_scope(scope, name) for name in domains}
    current = {name for name in mailbox.managed_domains if scope.covers_domain(name)}
    for name in sorted(wanted - current):
        mailbox = accounts.grant_role(db, mailbox.address, domain=name, actor=actor)
    for name in sorted(current - wanted):
        mailbox = accounts.revoke_role(db, mailbox.address, domain=name, actor=actor)
    return mailbox


def update_administered_mailbox(
    db: Database,
    scope: Scope,
    text: str,
    *,
    name: str | None = None,
    quota_bytes: int | None = None,
    active: bool | None = None,
    smtp_enabled: bool | None = None,
    pop3_enabled: bool | None = None,
    actor: Actor | None = None,
) -> MailboxView:
    mailbox = administered_mailbox(db, scope, text)
    refuse_self_lockout(scope, mailbox.address, active=active, drop_global_admin=False)
    return accounts.update_mailbox(
        db,
        mailbox.address,
        name=name,
        quota_bytes=quota_bytes,
        active=active,
        smtp_enabled=smtp_enabled,
        pop3_enabled=pop3_enabled,
        actor=actor,
    )
