"""Frozen read models handed to services, so nothing lazy-loads after a session closes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.accounts.permissions import Scope
from shared.mail.addresses import domain_to_unicode
from shared.storage.models import Alias, AuditEntry, Domain, GroupMailbox, Mailbox, MailboxLogin
from shared.storage.times import as_utc

# A mailbox's roles as the records spell them; the portal shows each as a translated label.
GLOBAL_ADMIN_ROLE = "global-admin"
MANAGER_ROLE_PREFIX = "manager:"


@dataclass(frozen=True)
class TokenRef:
    """An API token as the audit log names it: its id, which stays unique, and its name, for people."""

    id: int
    name: str


@dataclass(frozen=True)
class Actor:
    """Who acts: the rights every use case checks before it reads or writes, and the address
    and IP its audit entries record. Use cases take it as a required keyword, so a caller
    that forgets it gets a type error instead of acting with full rights."""

    scope: Scope
    ip: str | None = None
    token: TokenRef | None = None  # the API token presented, when the actor acts through one

    @property
    def address(self) -> str:
        return self.scope.address


CONSOLE = Actor(Scope("cli", is_global_admin=True))
"""The `beaconmail` command line: whoever may run it owns the installation and its database,
so it acts with every right; its changes are audited as made by "cli"."""


@dataclass(frozen=True)
class DomainView:
    id: int
    name: str
    display_name: str
    active: bool
    inbound_checks: bool
    forbid_external_forwarding: bool
    require_2fa: bool
    max_mailboxes: int
    max_aliases: int
    quota_bytes: int
    default_mailbox_quota: int
    used_bytes: int
    mailboxes: int
    aliases: int
    alias_domains: tuple[str, ...]

    @classmethod
    def of(cls, domain: Domain, mailboxes: int, aliases: int) -> DomainView:
        return cls(
            id=domain.id,
            name=domain.name,
            display_name=domain_to_unicode(domain.name),
            active=domain.active,
            inbound_checks=domain.inbound_checks,
            forbid_external_forwarding=domain.forbid_external_forwarding,
            require_2fa=domain.require_2fa,
            max_mailboxes=domain.max_mailboxes,
            max_aliases=domain.max_aliases,
            quota_bytes=domain.quota_bytes,
            default_mailbox_quota=domain.default_mailbox_quota,
            used_bytes=domain.used_bytes,
            mailboxes=mailboxes,
            aliases=aliases,
            alias_domains=tuple(alias.name for alias in domain.alias_domains),
        )


@dataclass(frozen=True)
class LastLogin:
    """A mailbox's last successful login over one protocol: when (UTC) and from which address."""

    protocol: str
    at: datetime
    client_ip: str

    @classmethod
    def of(cls, login: MailboxLogin) -> LastLogin:
        return cls(login.protocol, as_utc(login.at), login.client_ip)


@dataclass(frozen=True)
class MailboxView:
    id: int
    address: str
    local: str
    domain: str
    name: str
    quota_bytes: int
    used_bytes: int
    messages: int
    active: bool
    domain_active: bool
    smtp_enabled: bool
    pop3_enabled: bool
    imap_enabled: bool
    is_global_admin: bool
    managed_domains: tuple[str, ...]
    # Filled only by the reads that show them (`logins=True`). A record of use, not of the
    # mailbox's state: two views of an unchanged mailbox compare equal whoever logged in between.
    last_logins: tuple[LastLogin, ...] = field(default=(), compare=False)
    recovery_address: str | None = None  # where password-reset links go (My account)

    @property
    def roles(self) -> tuple[str, ...]:
        global_role = (GLOBAL_ADMIN_ROLE,) if self.is_global_admin else ()
        return global_role + tuple(f"{MANAGER_ROLE_PREFIX}{name}" for name in self.managed_domains)

    def last_login(self, protocol: str) -> LastLogin | None:
        return next((login for login in self.last_logins if login.protocol == protocol), None)

    @classmethod
    def of(cls, mailbox: Mailbox, *, logins: bool = False) -> MailboxView:
        return cls(
            id=mailbox.id,
            address=mailbox.address,
            local=mailbox.local,
            domain=mailbox.domain.name,
            name=mailbox.name,
            quota_bytes=mailbox.quota_bytes,
            used_bytes=mailbox.used_bytes,
            messages=mailbox.message_count,
            active=mailbox.active,
            domain_active=mailbox.domain.active,
            smtp_enabled=mailbox.smtp_enabled,
            pop3_enabled=mailbox.pop3_enabled,
            imap_enabled=mailbox.imap_enabled,
            is_global_admin=mailbox.is_global_admin,
            managed_domains=tuple(domain.name for domain in mailbox.managed_domains),
            last_logins=tuple(LastLogin.of(login) for login in mailbox.logins) if logins else (),
            recovery_address=mailbox.recovery_address,
        )


@dataclass(frozen=True)
class MailboxPage:
    """One page of a mailbox search. `total` counts the matches only up to a cap (counting
    500,000 rows costs more than the page); `total_is_exact` is false when there are more."""

    mailboxes: tuple[MailboxView, ...]
    total: int
    total_is_exact: bool
    has_previous: bool
    has_next: bool


@dataclass(frozen=True)
class AliasView:
    id: int
    source: str
    destinations: tuple[str, ...]

    @classmethod
    def of(cls, alias: Alias) -> AliasView:
        return cls(alias.id, alias.source, tuple(d.address for d in alias.destinations))


@dataclass(frozen=True)
class GroupView:
    id: int
    address: str
    members: tuple[str, ...]
    policy: str

    @classmethod
    def of(cls, group: GroupMailbox) -> GroupView:
        return cls(group.id, group.address, tuple(m.address for m in group.members), group.policy.value)


@dataclass(frozen=True)
class AuditView:
    at: datetime
    actor: str
    ip: str
    action: str
    target: str
    domain: str
    detail: str
    token: TokenRef | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditView:
        token = TokenRef(entry.token_id, entry.token_name) if entry.token_id is not None else None
        return cls(entry.at, entry.actor, entry.ip, entry.action, entry.target, entry.domain, entry.detail, token)
