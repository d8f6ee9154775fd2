"""Use cases for the suppression list, kept by a sending domain's managers: list its entries
that still count (newest first, paged by cursor, searched by address) and remove one, audited.
What adds an entry and what it holds back is shared.mail.suppressions's rule."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.accounts import audit
from shared.accounts.permissions import domain_in_scope, listed_domains, require_manager, require_write
from shared.accounts.views import Actor
from shared.errors import N_, InvalidValue, NotFound
from shared.storage.db import Database
from shared.storage.models import Domain, Suppression
from shared.storage.times import as_utc

MAX_PAGE = 200
CURSOR = re.compile(r"[0-9]{1,10}")
MAX_ID = 2**31 - 1  # an INTEGER column: a larger cursor means "all of them"


@dataclass(frozen=True)
class SuppressionView:
    id: int
    domain: str
    address: str
    reason: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class SuppressionPage:
    items: list[SuppressionView]
    next_cursor: str | None  # pass it as `cursor` for the next (older) page


def list_suppressions(
    db: Database,
    *,
    actor: Actor,
    domain: str | None = None,
    address: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> SuppressionPage:
    """The entries that count now, of the actor's domains (of `domain` only, if given), whose
    address contains `address` (any case); newest first, `limit` at a time."""
    require_manager(actor.scope)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidValue(N_("the page size must be 1 to %(count)d"), count=MAX_PAGE)
    if cursor is not None and not CURSOR.fullmatch(cursor):
        raise InvalidValue(N_("not a cursor of this list: %(cursor)s"), cursor=cursor)
    if address and "\x00" in address:
        return SuppressionPage([], None)  # no stored address holds a NUL, and PostgreSQL refuses one as a parameter
    query = (
        select(Suppression, Domain.name)
        .join(Domain, Domain.id == Suppression.domain_id)
        .where(Suppression.expires_at > datetime.now(timezone.utc),
               *listed_domains(actor.scope, Suppression.domain_id, domain))
        .order_by(Suppression.id.desc())
        .limit(limit + 1)
    )
    if address:
        query = query.where(Suppression.address.contains(address.strip().lower(), autoescape=True))
    if cursor is not None:
        query = query.where(Suppression.id < min(int(cursor), MAX_ID))
    with db.session.begin() as s:
        items = [_view(entry, name) for entry, name in s.execute(query)]
    more = len(items) > limit
    return SuppressionPage(items[:limit], str(items[limit - 1].id) if more else None)


def _view(entry: Suppression, domain: str) -> SuppressionView:
    return SuppressionView(entry.id, domain, entry.address, entry.reason, as_utc(entry.created_at), as_utc(entry.expires_at))


def get_suppression(db: Database, domain: str, address: str, *, actor: Actor) -> SuppressionView:
    """One entry of the actor's domains that counts now; NotFound for any other."""
    require_manager(actor.scope)
    with db.session.begin() as s:
        entry, name = _entry(s, actor, domain, address)
        return _view(entry, name)


def remove_suppression(db: Database, domain: str, address: str, *, actor: Actor) -> None:
    """Send to `address` from `domain` again; NotFound for an entry outside the actor's domains
    or none at all."""
    require_manager(actor.scope)
    require_write(actor.scope)
    with db.session.begin() as s:
        entry, name = _entry(s, actor, domain, address)
        audit.record(s, actor, "suppression.delete", entry.address, name, entry.reason)
        s.delete(entry)


def _entry(s: Session, actor: Actor, domain: str, address: str) -> tuple[Suppression, str]:
    name = domain_in_scope(actor.scope, domain)
    wanted = address.strip().lower()
    if "\x00" in wanted:  # none is stored, and PostgreSQL refuses one as a parameter
        raise NotFound(N_("%(address)s is not suppressed for %(domain)s"), address=wanted, domain=name)
    found = s.execute(
        select(Suppression, Domain.name)
        .join(Domain, Domain.id == Suppression.domain_id)
        .where(Domain.name == name, Suppression.address == wanted, Suppression.expires_at > datetime.now(timezone.utc))
    ).one_or_none()
    if found is None:
        raise NotFound(N_("%(address)s is not suppressed for %(domain)s"), address=wanted, domain=name)
    entry, found_name = found
    return entry, found_name
