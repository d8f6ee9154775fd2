"""Use cases for mailboxes: create, change, remove, roles, and logging in."""
from __future__ import annotations

import shutil
from collections.abc import Iterable

from sqlalchemy.orm import Session

from shared.accounts import audit
from shared.accounts.passwords import hash_password, is_common_password, is_importable_hash
from shared.accounts.permissions import (
    Scope,
    address_in_scope,
    domain_in_scope,
    is_own,
    refuse_self_lockout,
    require_administer,
    require_global_admin,
    require_write,
)
from shared.accounts.signouts import sign_out_sessions
from shared.accounts.views import Actor, MailboxView
from shared.errors import (
    N_,
    InvalidValue,
    LimitExceeded,
    PermissionDenied,
)
from shared.mail.addresses import parse_address
from shared.mail.quota import check_mailbox_quota, give_back_to_domain
from shared.storage.db import Database
from shared.storage.lookups import (
    count_in_domain,
    domain_by_name,
    ensure_address_free,
    mailbox_by_address,
)
from shared.storage.maildirs import create_maildir, maildir_relative_path
from shared.storage.models import Mailbox


def check_password_text(password: str, min_length: int) -> None:
    """The one password rule (BEACONMAIL_PASSWORD_MIN_LENGTH, and none of the most common
    passwords), for every path that sets one."""
    if len(password) < min_length:
        raise InvalidValue(N_("the password must have at least %(count)d characters"), count=min_length)
    if is_common_password(password):
        raise InvalidValue(N_("the password is one of the most common ones: choose another"))
    if len(password) > 1024 or any(ord(ch) < 32 or ch == "\x7f" for ch in password):
        raise InvalidValue(N_("the password must be at most 1024 characters without control characters"))


def display_name(text: str) -> str:
    """The name as stored: trimmed, and refused if it holds control characters. A CR or LF
    would become a header line wherever the name is used as a sender's phrase (the Apple mail
    profile, a From: written from it) or break a line of `beaconmail mailbox list`."""
    if not text.isprintable():
        raise InvalidValue(N_("the display name must not contain control characters or line breaks"))
    return text.strip()


def create_mailbox(
    db: Database,
    address: str,
    password: str,
    *,
    quota_bytes: int | None = None,
    name: str = "",
    password_is_hash: bool = False,
    actor: Actor,
) -> MailboxView:
    """Create a mailbox in one of the actor's domains; with `password_is_hash`, `password` is
    an imported (e.g. Dovecot) hash."""
    parsed = parse_address(address)
    require_write(actor.scope)
    address_in_scope(actor.scope, str(parsed))  # a right on the input alone: checked before the slow hash
    if password_is_hash and not is_importable_hash(password):
        raise InvalidValue(N_("unrecognised password hash"))
    if not password_is_hash:
        check_password_text(password, db.settings.password_min_length)
    stored_name = display_name(name)
    stored_hash = password if password_is_hash else hash_password(password)
    with db.session.begin() as s:
        domain = domain_by_name(s, parsed.domain, for_update=True)
        if domain.max_mailboxes and count_in_domain(s, Mailbox.domain_id, domain.id) >= domain.max_mailboxes:
            raise LimitExceeded(
                N_("%(domain)s already has its maximum of %(limit)s mailboxes"), domain=domain.name, limit=domain.max_mailboxes
            )
        quota = domain.default_mailbox_quota if quota_bytes is None else quota_bytes
        check_mailbox_quota(quota, domain)
        ensure_address_free(s, str(parsed))
        relative = maildir_relative_path(parsed.domain, parsed.local)
        mailbox = Mailbox(
            domain=domain,
            local=parsed.local,
            address=str(parsed),
            password_hash=stored_hash,
            name=stored_name,
            quota_bytes=quota,
            maildir=relative,
        )
        s.add(mailbox)
        s.flush()
        audit.record(s, actor, "mailbox.create", mailbox.address, domain.name)
        create_maildir(db.settings.mail_root / relative)
        return MailboxView.of(mailbox)


def visible_mailbox(s: Session, scope: Scope, address: str, *, own: bool = False) -> Mailbox:
    """A mailbox of the scope's domains (NotFound, like a missing one, outside them), or with
    `own` the scope's own mailbox wherever it is."""
    if own and is_own(scope, address):
        return mailbox_by_address(s, scope.address)
    return mailbox_by_address(s, str(address_in_scope(scope, address)))


def administered_mailbox(s: Session, scope: Scope, address: str, *, own: bool = False) -> Mailbox:
    """A mailbox the scope may change: visible, and with no rights beyond the scope's own
    (own mailbox aside, with `own`)."""
    require_write(scope)
    mailbox = visible_mailbox(s, scope, address, own=own)
    if not (own and mailbox.address == scope.address):
        require_administer(
            scope,
            is_global_admin=mailbox.is_global_admin,
            managed_domains=[domain.name for domain in mailbox.managed_domains],
        )
    return mailbox


def get_mailbox(db: Database, address: str, *, actor: Actor, to_change: bool = False) -> MailboxView:
    """A mailbox of the actor's domains; with `to_change`, only one the actor may change
    (for a page that leads to a change)."""
    with db.session.begin() as s:
        find = administered_mailbox if to_change else visible_mailbox
        return MailboxView.of(find(s, actor.scope, address), logins=True)


def signed_in_mailbox(db: Database, address: str) -> MailboxView:
    """The mailbox a portal session belongs to. Every Actor of the portal is built from it,
    so reading it takes none."""
    with db.session.begin() as s:
        return MailboxView.of(mailbox_by_address(s, str(parse_address(address))))


def update_mailbox(
    db: Database,
    address: str,
    *,
    actor: Actor,
    name: str | None = None,
    quota_bytes: int | None = None,
    active: bool | None = None,
    smtp_enabled: bool | None = None,
    pop3_enabled: bool | None = None,
    imap_enabled: bool | None = None,
    global_admin: bool | None = None,
    managed_domains: Iterable[str] | None = None,
) -> MailboxView:
    """Change a mailbox the actor may change, and its roles, in one transaction. Nobody disables
    their own mailbox or drops their own global admin role; `managed_domains` is the wanted set
    among the actor's own domains (others the mailbox manages stay)."""
    changes = dict(
        name=name, quota_bytes=quota_bytes, active=active,
        smtp_enabled=smtp_enabled, pop3_enabled=pop3_enabled, imap_enabled=imap_enabled,
    )
    changes = {field: value for field, value in changes.items() if value is not None}
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address)
        drops_admin = global_admin is False and mailbox.is_global_admin
        refuse_self_lockout(actor.scope, mailbox.address, active=active, drop_global_admin=drops_admin)
        if name is not None:
            changes["name"] = display_name(name)
        if quota_bytes is not None:
            check_mailbox_quota(quota_bytes, mailbox.domain)
        for field, value in changes.items():
            setattr(mailbox, field, value)
        detail = ", ".join(f"{field}={value}" for field, value in changes.items())
        audit.record(s, actor, "mailbox.update", mailbox.address, mailbox.domain.name, detail)
        _set_roles(s, actor, mailbox, global_admin, managed_domains)
        return MailboxView.of(mailbox)


def _set_roles(
    s: Session, actor: Actor, mailbox: Mailbox, global_admin: bool | None, domains: Iterable[str] | None
) -> None:
    """Make the roles match, changing only what the actor itself controls."""
    if global_admin is not None and global_admin != mailbox.is_global_admin:
        _change_role(s, actor, mailbox, grant=global_admin, domain=None)
    if domains is None:
        return
    wanted = {domain_in_scope(actor.scope, name) for name in domains}
    current = {domain.name for domain in mailbox.managed_domains if actor.scope.covers_domain(domain.name)}
    for name in sorted(wanted - current):
        _change_role(s, actor, mailbox, grant=True, domain=name)
    for name in sorted(current - wanted):
        _change_role(s, actor, mailbox, grant=False, domain=name)


def _change_role(s: Session, actor: Actor, mailbox: Mailbox, *, grant: bool, domain: str | None) -> None:
    """Grant or revoke the global admin role (domain None, global admins only) or the management
    of one of the actor's domains."""
    if domain is None:
        drops_admin = not grant and mailbox.is_global_admin
        refuse_self_lockout(actor.scope, mailbox.address, active=None, drop_global_admin=drops_admin)
        require_global_admin(actor.scope)
        mailbox.is_global_admin = grant
        role = "global-admin"
    else:
        managed = domain_by_name(s, domain_in_scope(actor.scope, domain))
        role = f"manager:{managed.name}"
        if grant and managed not in mailbox.managed_domains:
            mailbox.managed_domains.append(managed)
        elif not grant and managed in mailbox.managed_domains:
            mailbox.managed_domains.remove(managed)
    audit.record(s, actor, "role.grant" if grant else "role.revoke", mailbox.address, mailbox.domain.name, role)
    s.flush()


def set_password(
    db: Database, address: str, password: str, *, actor: Actor, sign_out: bool = False, keep_session: str | None = None
) -> None:
    """Set the password of the actor's own mailbox or of one it may change; with `sign_out`,
    end its portal sessions too, but the one holding `keep_session` (the owner's own browser)."""
    check_password_text(password, db.settings.password_min_length)
    new_hash = hash_password(password)  # slow: before the transaction, which on SQLite holds the write lock
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        mailbox.password_hash = new_hash
        ended = sign_out_sessions(s, mailbox.id, keep_token=keep_session) if sign_out else 0
        detail = f"{ended} sessions signed out" if sign_out else ""
        audit.record(s, actor, "mailbox.password", mailbox.address, mailbox.domain.name, detail)


def remove_mailbox(db: Database, address: str, *, actor: Actor) -> None:
    """Delete a mailbox the actor may change, but never its own, with its stored mail, giving
    its bytes back to the domain's total."""
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address)
        if mailbox.address == actor.address:
            raise PermissionDenied(N_("you cannot delete your own mailbox"))
        s.refresh(mailbox, with_for_update=True)  # no delivery may add bytes between counting and deleting
        give_back_to_domain(s, mailbox.id, mailbox.used_bytes)
        maildir = db.settings.mail_root / mailbox.maildir
        audit.record(s, actor, "mailbox.remove", mailbox.address, mailbox.domain.name)
        s.delete(mailbox)
    shutil.rmtree(maildir, ignore_errors=True)


def _one_role(db: Database, address: str, actor: Actor, grant: bool, global_admin: bool, domain: str | None) -> MailboxView:
    if global_admin == (domain is not None):
        raise InvalidValue(N_("give exactly one of a global role or a domain"))
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address)
        _change_role(s, actor, mailbox, grant=grant, domain=domain)
        return MailboxView.of(mailbox)


def grant_role(
    db: Database, address: str, *, actor: Actor, global_admin: bool = False, domain: str | None = None
) -> MailboxView:
    """Make the mailbox a global admin or a manager of `domain` (one of the actor's)."""
    return _one_role(db, address, actor, True, global_admin, domain)


def revoke_role(
    db: Database, address: str, *, actor: Actor, global_admin: bool = False, domain: str | None = None
) -> MailboxView:
    return _one_role(db, address, actor, False, global_admin, domain)
