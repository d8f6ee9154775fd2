"""Use cases for mailboxes: create, change, remove, roles, and logging in."""
from __future__ import annotations

import shutil

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from shared import audit
from shared.addresses import normalise_domain, parse_address
from shared.db import Database
from shared.delivery import release_domain_bytes
from shared.errors import AccountDisabled, AuthFailed, InvalidAddress, InvalidValue, LimitExceeded, TemporaryFailure
from shared.lookups import count_in_domain, domain_by_name, ensure_address_free, hosted_domain, mailbox_by_address
from shared.models import Domain, Mailbox
from shared.passwords import hash_password, is_importable_hash, verify_password
from shared.store import create_maildir, maildir_relative_path
from shared.views import Actor, MailboxView

SERVICES = ("smtp", "pop3", "portal")


def check_password_text(password: str) -> None:
    if not password:
        raise InvalidValue("the password must not be empty")
    if len(password) > 1024 or any(ord(ch) < 32 or ch == "\x7f" for ch in password):
        raise InvalidValue("the password must be at most 1024 characters without control characters")


def _check_quota(quota_bytes: int, domain: Domain) -> None:
    if quota_bytes < 0:
        raise InvalidValue("the quota must not be negative")
    if domain.quota_bytes and quota_bytes > domain.quota_bytes:
        raise LimitExceeded(f"the quota must not exceed the domain's total of {domain.quota_bytes} bytes")


def create_mailbox(
    db: Database,
    address: str,
    password: str,
    *,
    quota_bytes: int | None = None,
    name: str = "",
    password_is_hash: bool = False,
    actor: Actor | None = None,
) -> MailboxView:
    """Create a mailbox; with `password_is_hash`, `password` is an imported (e.g. Dovecot) hash."""
    parsed = parse_address(address)
    if password_is_hash and not is_importable_hash(password):
        raise InvalidValue("unrecognised password hash")
    if not password_is_hash:
        check_password_text(password)
    stored_hash = password if password_is_hash else hash_password(password)
    with db.session.begin() as s:
        domain = domain_by_name(s, parsed.domain, for_update=True)
        if domain.max_mailboxes and count_in_domain(s, Mailbox.domain_id, domain.id) >= domain.max_mailboxes:
            raise LimitExceeded(f"{domain.name} already has its maximum of {domain.max_mailboxes} mailboxes")
        quota = domain.default_mailbox_quota if quota_bytes is None else quota_bytes
        _check_quota(quota, domain)
        ensure_address_free(s, str(parsed))
        relative = maildir_relative_path(parsed.domain, parsed.local)
        mailbox = Mailbox(
            domain=domain,
            local=parsed.local,
            address=str(parsed),
            password_hash=stored_hash,
            name=name.strip(),
            quota_bytes=quota,
            maildir=relative,
        )
        s.add(mailbox)
        s.flush()
        audit.record(s, actor, "mailbox.create", mailbox.address, domain.name)
        create_maildir(db.settings.mail_root / relative)
        return MailboxView.of(mailbox)


def _search(query: Select[tuple[Mailbox]], domain: str | None, search: str | None) -> Select[tuple[Mailbox]]:
    if domain is not None:
        query = query.join(Domain, Mailbox.domain_id == Domain.id).where(Domain.name == normalise_domain(domain))
    if search:
        pattern = f"%{search.strip().lower()}%"
        query = query.where(or_(Mailbox.address.like(pattern), func.lower(Mailbox.name).like(pattern)))
    return query


def list_mailboxes(
    db: Database,
    domain: str | None = None,
    *,
    search: str | None = None,
    domains: list[str] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[MailboxView]:
    """Ordered by address; `domains` narrows to a manager's domains."""
    query = _search(select(Mailbox), domain, search).order_by(Mailbox.address)
    if domains is not None:
        query = query.where(Mailbox.domain.has(Domain.name.in_(domains)))
    query = query.options(selectinload(Mailbox.domain), selectinload(Mailbox.managed_domains))
    with db.session.begin() as s:
        return [MailboxView.of(m) for m in s.scalars(query.offset(offset).limit(limit))]


def count_mailboxes(
    db: Database, domain: str | None = None, *, search: str | None = None, domains: list[str] | None = None
) -> int:
    query = _search(select(func.count(Mailbox.id)), domain, search)  # type: ignore[arg-type]
    if domains is not None:
        query = query.where(Mailbox.domain.has(Domain.name.in_(domains)))
    with db.session.begin() as s:
        return s.scalar(query) or 0


def get_mailbox(db: Database, address: str) -> MailboxView:
    with db.session.begin() as s:
        return MailboxView.of(mailbox_by_address(s, str(parse_address(address))))


def update_mailbox(
    db: Database,
    address: str,
    *,
    name: str | None = None,
    quota_bytes: int | None = None,
    active: bool | None = None,
    smtp_enabled: bool | None = None,
    pop3_enabled: bool | None = None,
    actor: Actor | None = None,
) -> MailboxView:
    changes = dict(name=name, quota_bytes=quota_bytes, active=active, smtp_enabled=smtp_enabled, pop3_enabled=pop3_enabled)
    changes = {field: value for field, value in changes.items() if value is not None}
    with db.session.begin() as s:
        mailbox = mailbox_by_address(s, str(parse_address(address)))
        if quota_bytes is not None:
            _check_quota(quota_bytes, mailbox.domain)
        for field, value in changes.items():
            setattr(mailbox, field, value.strip() if isinstance(value, str) else value)
        detail = ", ".join(f"{field}={value}" for field, value in changes.items())
        audit.record(s, actor, "mailbox.update", mailbox.address, mailbox.domain.name, detail)
        return MailboxView.of(mailbox)


def set_password(db: Database, address: str, password: str, actor: Actor | None = None) -> None:
    check_password_text(password)
    new_hash = hash_password(password)
    with db.session.begin() as s:
        mailbox = mailbox_by_address(s, str(parse_address(address)))
        mailbox.password_hash = new_hash
        audit.record(s, actor, "mailbox.password", mailbox.address, mailbox.domain.name)


def remove_mailbox(db: Database, address: str, actor: Actor | None = None) -> None:
    """Delete the mailbox and its stored mail, giving its bytes back to the domain's total."""
    with db.session.begin() as s:
        mailbox = mailbox_by_address(s, str(parse_address(address)))
        s.refresh(mailbox, with_for_update=True)  # no delivery may add bytes between counting and deleting
        release_domain_bytes(s, mailbox.id, mailbox.used_bytes)
        maildir = db.settings.mail_root / mailbox.maildir
        audit.record(s, actor, "mailbox.remove", mailbox.address, mailbox.domain.name)
        s.delete(mailbox)
    shutil.rmtree(maildir, ignore_errors=True)


def _set_role(db: Database, address: str, grant: bool, global_admin: bool, domain: str | None, actor: Actor | None) -> MailboxView:
    if global_admin == (domain is not None):
        raise InvalidValue("give exactly one of a global role or a domain")
    with db.session.begin() as s:
        mailbox = mailbox_by_address(s, str(parse_address(address)))
        if global_admin:
            mailbox.is_global_admin = grant
            role = "global-admin"
        else:
            managed = domain_by_name(s, normalise_domain(domain or ""))
            role = f"manager:{managed.name}"
            if grant and managed not in mailbox.managed_domains:
                mailbox.managed_domains.append(managed)
            elif not grant and managed in mailbox.managed_domains:
                mailbox.managed_domains.remove(managed)
        audit.record(s, actor, "role.grant" if grant else "role.revoke", mailbox.address, mailbox.domain.name, role)
        s.flush()
        return MailboxView.of(mailbox)


def grant_role(db: Database, address: str, *, global_admin: bool = False, domain: str | None = None, actor: Actor | None = None) -> MailboxView:
    return _set_role(db, address, True, global_admin, domain, actor)


def revoke_role(db: Database, address: str, *, global_admin: bool = False, domain: str | None = None, actor: Actor | None = None) -> MailboxView:
    return _set_role(db, address, False, global_admin, domain, actor)


def authenticate(db: Database, address: str, password: str, *, service: str) -> MailboxView:
    """The mailbox for these credentials. Unknown user and wrong password fail alike and cost alike;
    a disabled account is reported only to a caller who knew the password."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    try:
        parsed = parse_address(address)
    except InvalidAddress:
        verify_password(password, None)
        raise AuthFailed("authentication failed") from None
    # The hash is checked outside any transaction: on SQLite a transaction holds the write
    # lock, and argon2 takes long enough to stall every delivery behind a burst of logins.
    try:
        with db.session.begin() as s:
            domain = hosted_domain(s, parsed.domain)
            key = f"{parsed.local}@{domain.name}" if domain else str(parsed)
            mailbox = s.scalars(select(Mailbox).where(Mailbox.address == key)).one_or_none()
            view = MailboxView.of(mailbox) if mailbox else None
            stored_hash = mailbox.password_hash if mailbox else None
    except SQLAlchemyError as exc:
        raise TemporaryFailure("the account database is not available") from exc
    ok, new_hash = verify_password(password, stored_hash)
    if view is None or not ok:
        raise AuthFailed("authentication failed")
    if new_hash is not None:
        with db.session.begin() as s:
            s.execute(
                update(Mailbox)
                .where(Mailbox.id == view.id, Mailbox.password_hash == stored_hash)
                .values(password_hash=new_hash)
            )
    if not (view.active and view.domain_active) or (service != "portal" and not getattr(view, f"{service}_enabled")):
        raise AccountDisabled(f"{view.address} may not use {service}")
    return view

