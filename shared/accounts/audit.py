"""The audit trail: every change a use case makes is recorded in its own transaction."""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shared.accounts.permissions import domain_in_scope, require_manager
from shared.accounts.views import Actor, AuditView
from shared.errors import InvalidAddress
from shared.mail.addresses import normalise_domain, stored_alias_source
from shared.storage.db import Database
from shared.storage.models import AuditEntry


def record(s: Session, actor: Actor, action: str, target: str, domain: str = "", detail: str = "") -> None:
    s.add(
        AuditEntry(
            actor=actor.address,
            ip=actor.ip or "",
            action=action,
            target=target,
            domain=domain,
            detail=detail,
            token_id=actor.token.id if actor.token else None,
            token_name=actor.token.name if actor.token else "",
        )
    )


def list_audit(
    db: Database,
    *,
    actor: Actor,
    domain: str | None = None,
    by: str | None = None,
    action: str | None = None,
    text: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditView]:
    """Newest first, of the actor's domains or of `domain`, one of them; `by` is who made the change."""
    require_manager(actor.scope)
    domains = [domain_in_scope(actor.scope, domain)] if domain else actor.scope.domain_filter()
    by, texts = stored_form(by) if by else None, {text, stored_form(text)} if text else set()
    filters = [by or "", action or "", *texts, *(domains or [])]
    if any("\x00" in value for value in filters):
        return []  # no stored value holds a NUL, and PostgreSQL refuses one as a parameter
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if domains is not None:
        query = query.where(AuditEntry.domain.in_(domains))
    if by:
        query = query.where(AuditEntry.actor == by)
    if action:
        query = query.where(AuditEntry.action == action)
    if texts:
        patterns = [f"%{each}%" for each in texts]
        query = query.where(or_(*(column.like(pattern) for pattern in patterns for column in (AuditEntry.target, AuditEntry.detail))))
    with db.session.begin() as s:
        return [AuditView.of(entry) for entry in s.scalars(query.limit(limit).offset(offset))]


def stored_form(text: str) -> str:
    """An address or a domain as entries store it (A-labels), so a filter typed in Unicode finds
    them; any other text as it was."""
    for normalise in (stored_alias_source, normalise_domain):
        try:
            return normalise(text)
        except InvalidAddress:
            pass
    return text
