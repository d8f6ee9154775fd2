"""Private lookups shared by the account use cases; each takes the caller's session."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from shared.errors import N_, Conflict, NotFound
from shared.storage.models import Alias, AliasDomain, Domain, GroupMailbox, Mailbox


def domain_by_name(s: Session, name: str, *, for_update: bool = False) -> Domain:
    query = select(Domain).where(Domain.name == name)
    if for_update:
        query = query.with_for_update()
    domain = s.scalars(query).one_or_none()
    if domain is None:
        raise NotFound(N_("unknown domain: %(name)s"), name=name)
    return domain


def hosted_domain(s: Session, name: str) -> Domain | None:
    """The domain that receives mail for `name`, directly or as one of its alias domains."""
    domain = s.scalars(select(Domain).where(Domain.name == name)).one_or_none()
    if domain is not None:
        return domain
    return s.scalars(
        select(Domain).join(AliasDomain, AliasDomain.domain_id == Domain.id).where(AliasDomain.name == name)
    ).one_or_none()


def mailbox_by_address(s: Session, address: str) -> Mailbox:
    mailbox = s.scalars(select(Mailbox).where(Mailbox.address == address)).one_or_none()
    if mailbox is None:
        raise NotFound(N_("unknown mailbox: %(name)s"), name=address)
    return mailbox


def ensure_address_free(s: Session, address: str) -> None:
    """Mailboxes, aliases and groups share one address space."""
    for model, column, taken in (
        (Mailbox, Mailbox.address, N_("%(address)s is already a mailbox")),
        (Alias, Alias.source, N_("%(address)s is already an alias")),
        (GroupMailbox, GroupMailbox.address, N_("%(address)s is already a group")),
    ):
        if s.scalar(select(func.count()).select_from(model).where(column == address)):
            raise Conflict(taken, address=address)


def count_in_domain(s: Session, column: InstrumentedAttribute[int], domain_id: int) -> int:
    return s.scalar(select(func.count()).where(column == domain_id)) or 0
