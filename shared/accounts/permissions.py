"""Who may see and change what: the rules every use case applies to the Actor it is given.

A global admin sees everything. A domain manager sees only the domains they manage;
anything outside answers NotFound with the same text as a thing that does not exist,
so a changed id in a URL tells nothing. A staff user sees only their own mailbox.
An API token narrows its owner's rights to some domains and possibly to reading.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import N_, InvalidAddress, MessageId, NotFound, PermissionDenied
from shared.mail.addresses import (
    Address,
    domain_part,
    normalise_domain,
    parse_address,
    stored_alias_source,
)
from shared.storage.models import Domain

Parsed = TypeVar("Parsed")


@dataclass(frozen=True)
class Scope:
    """The rights of one signed-in mailbox or API token."""

    address: str
    is_global_admin: bool = False
    domains: frozenset[str] = frozenset()
    read_only: bool = False
    sends_mail: bool = False  # a send token: it may send mail as `address` and do nothing else

    @property
    def is_manager(self) -> bool:
        return self.is_global_admin or bool(self.domains)

    def covers_domain(self, name: str) -> bool:
        return self.is_global_admin or name in self.domains

    def domain_filter(self) -> list[str] | None:
        """None means every domain; otherwise the names listings are restricted to."""
        return None if self.is_global_admin else sorted(self.domains)

    def narrowed(self, domains: Iterable[str], *, read_only: bool) -> Scope:
        """These rights limited to `domains` (empty = all of them) and maybe to reading."""
        wanted = frozenset(domains)
        if not wanted:
            return Scope(self.address, self.is_global_admin, self.domains, read_only or self.read_only)
        kept = wanted if self.is_global_admin else wanted & self.domains
        return Scope(self.address, False, kept, read_only or self.read_only)


def scope_of(address: str, *, is_global_admin: bool, managed_domains: Iterable[str]) -> Scope:
    return Scope(address=address, is_global_admin=is_global_admin, domains=frozenset(managed_domains))


def _known_in_scope(
    scope: Scope, text: str, unknown: MessageId, parse: Callable[[str], Parsed], domain_of: Callable[[Parsed], str]
) -> Parsed:
    """`text` parsed, if it lies in the scope's domains; else NotFound with `unknown` ("unknown
    domain: %(name)s"), the same for a malformed `text` as for one outside the scope."""
    try:
        parsed = parse(text)
    except InvalidAddress as exc:
        raise NotFound(unknown, name=text) from exc
    if not scope.covers_domain(domain_of(parsed)):
        raise NotFound(unknown, name=parsed)
    return parsed


def domain_in_scope(scope: Scope, text: str) -> str:
    """The normalised domain name, or NotFound when it is outside the scope."""
    return _known_in_scope(scope, text, N_("unknown domain: %(name)s"), normalise_domain, lambda name: name)


def address_in_scope(scope: Scope, text: str) -> Address:
    """A managed address (mailbox, group or alias) inside the scope's domains, else NotFound."""
    return _known_in_scope(scope, text, N_("unknown address: %(name)s"), parse_address, lambda address: address.domain)


def listed_domains(scope: Scope, domain_id: InstrumentedAttribute[int], domain: str | None) -> list[ColumnElement[bool]]:
    """Conditions on a `domain_id` column for a listing: of `domain` if given (NotFound outside
    the scope), and always among the scope's domains."""
    conditions = []
    if domain is not None:
        wanted = select(Domain.id).where(Domain.name == domain_in_scope(scope, domain))
        conditions.append(domain_id == wanted.scalar_subquery())
    names = scope.domain_filter()
    if names is not None:
        conditions.append(domain_id.in_(select(Domain.id).where(Domain.name.in_(names))))
    return conditions


def is_own(scope: Scope, text: str) -> bool:
    """Is `text` the acting user's own address? Everyone may read and change their own
    password and forwarding, whatever domains they manage."""
    try:
        return str(parse_address(text)) == scope.address
    except InvalidAddress:
        return False


def alias_source_in_scope(scope: Scope, text: str) -> str:
    """An alias source (`local@domain` or catch-all `@domain`) inside the scope, as stored."""
    return _known_in_scope(scope, text, N_("unknown alias: %(name)s"), stored_alias_source, domain_part)


def require_manager(scope: Scope) -> None:
    if not scope.is_manager:
        raise PermissionDenied(N_("only global admins and domain managers may do this"))


def require_global_admin(scope: Scope) -> None:
    if not scope.is_global_admin:
        raise PermissionDenied(N_("only global admins may do this"))


def require_write(scope: Scope) -> None:
    if scope.read_only:
        raise PermissionDenied(N_("this token may only read"))


def require_sender(scope: Scope) -> None:
    if not scope.sends_mail:
        raise PermissionDenied(N_("only a token of scope send may send mail"))


def refuse_self_lockout(scope: Scope, address: str, *, active: bool | None, drop_global_admin: bool) -> None:
    """Nobody disables their own mailbox or drops their own admin role from the portal or API."""
    if address != scope.address:
        return
    if active is False:
        raise PermissionDenied(N_("you cannot disable your own mailbox"))
    if drop_global_admin:
        raise PermissionDenied(N_("you cannot remove your own global admin role"))


def may_administer(scope: Scope, *, is_global_admin: bool, managed_domains: Iterable[str]) -> bool:
    """May this scope change that account? Never one with rights beyond the scope's own,
    or a manager could reset a global admin's password and sign in as them."""
    if scope.is_global_admin:
        return True
    return not is_global_admin and set(managed_domains) <= scope.domains


def require_administer(scope: Scope, *, is_global_admin: bool, managed_domains: Iterable[str]) -> None:
    if not may_administer(scope, is_global_admin=is_global_admin, managed_domains=managed_domains):
        raise PermissionDenied(N_("this account has rights beyond yours; ask a global admin"))

