"""Password reset by mail: a recovery address outside the hosted domains, a single-use link
valid for 15 minutes mailed there through the outbound queue, and the new password it sets,
which signs out every portal session of the account.

A request names an address; whether it exists or has a recovery address is never told back, so
the caller answers the same whatever happens here (and should not wait for it)."""
from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import Select, select, update

from shared.accounts import audit
from shared.accounts.mailboxes import administered_mailbox, check_password_text
from shared.accounts.passwords import hash_password
from shared.accounts.permissions import scope_of
from shared.accounts.signouts import sign_out_sessions, token_digest
from shared.accounts.views import Actor
from shared.config import Settings
from shared.errors import N_, InvalidAddress, InvalidValue, NotFound
from shared.mail.addresses import parse_address
from shared.mail.completion import new_message_id
from shared.mail.mailflow import send_generated
from shared.storage.db import Database
from shared.storage.lookups import hosted_domain
from shared.storage.models import Mailbox, PasswordResetLink, utcnow

log = logging.getLogger(__name__)

LINK_LIFETIME = timedelta(minutes=15)
# One mail per account in this time at most: the form cannot be used to flood a recovery address.
RESEND_AFTER = timedelta(minutes=1)
RESET_PATH = "/password-reset/"


def portal_address(settings: Settings) -> str:
    return settings.portal_url or f"http://{settings.hostname}:{settings.admin_port}"


def set_recovery_address(db: Database, address: str, recovery: str, *, actor: Actor) -> str | None:
    """Set (or, with an empty `recovery`, clear) where the reset links of the actor's own mailbox
    or of one it may change go. It must lie outside the hosted domains: a reset link for a
    mailbox nobody can open would land in another of ours, or in itself."""
    wanted = recovery.strip()
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        stored = None
        if wanted:
            parsed = parse_address(wanted)
            if hosted_domain(s, parsed.domain) is not None:
                raise InvalidAddress(N_("%(address)s is one of our own domains; give an address elsewhere"), address=str(parsed))
            stored = str(parsed)
        mailbox.recovery_address = stored
        audit.record(s, actor, "mailbox.recovery-address", mailbox.address, mailbox.domain.name, stored or "")
        return stored


def request_password_reset(db: Database, address: str, *, ip: str) -> None:
    """Mail a reset link to the account's recovery address, if there is an active account with
    one; otherwise nothing happens (and nothing tells)."""
    try:
        key = str(parse_address(address))
    except InvalidAddress:
        return
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.session.begin() as s:
        mailbox = s.scalars(select(Mailbox).where(Mailbox.address == key).with_for_update()).one_or_none()
        if mailbox is None or not (mailbox.active and mailbox.domain.active) or not mailbox.recovery_address:
            return
        recent = s.scalar(
            select(PasswordResetLink.id).where(
                PasswordResetLink.mailbox_id == mailbox.id, PasswordResetLink.created_at > now - RESEND_AFTER
            ).limit(1)
        )
        if recent is not None:
            log.info("password reset for %s from %s: a link went out less than a minute ago", key, ip)
            return
        s.add(PasswordResetLink(mailbox_id=mailbox.id, token_hash=token_digest(token), expires_at=now + LINK_LIFETIME))
        owner = Actor(scope_of(mailbox.address, is_global_admin=False, managed_domains=()), ip=ip)
        audit.record(s, owner, "mailbox.password-reset.request", mailbox.address, mailbox.domain.name)
        recipient, sender = mailbox.recovery_address, f"postmaster@{mailbox.domain.name}"
    link = f"{portal_address(db.settings)}{RESET_PATH}{token}"
    message = _reset_message(sender, recipient, key, link, db.settings.hostname)
    send_generated(db, message, recipient=recipient, kind="password reset")


def _reset_message(sender: str, recipient: str, account: str, link: str, hostname: str) -> bytes:
    message = EmailMessage(policy=policy.SMTP if recipient.isascii() else policy.SMTPUTF8)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = f"Password reset for {account}"
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = new_message_id(hostname)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        f"Someone asked to reset the password of {account}.\n\n"
        f"To choose a new password, open this link within {LINK_LIFETIME.seconds // 60} minutes:\n\n"
        f"{link}\n\n"
        "It works once. If you did not ask for it, ignore this message: the password stays as it is.\n",
        charset="utf-8",
    )
    return message.as_bytes()


def _live_link(token: str) -> Select[PasswordResetLink]:
    return select(PasswordResetLink).where(
        PasswordResetLink.token_hash == token_digest(token),
        PasswordResetLink.used_at.is_(None),
        PasswordResetLink.expires_at > utcnow(),
    )


def reset_link_is_valid(db: Database, token: str) -> bool:
    """Whether the link still works (unused, not expired): the page shows the form, or says why not."""
    with db.session.begin() as s:
        return s.scalars(_live_link(token)).one_or_none() is not None


def reset_password(db: Database, token: str, password: str, *, ip: str) -> str:
    """Set the password of the link's account, use the link up (and every other one of the
    account) and sign out all its portal sessions; returns the account's address."""
    check_password_text(password, db.settings.password_min_length)
    new_hash = hash_password(password)
    with db.session.begin() as s:
        link = s.scalars(_live_link(token).with_for_update()).one_or_none()
        if link is None:
            raise NotFound(N_("this reset link is used up or expired; ask for a new one"))
        # Conditional: of two requests racing with one link, one sets the password.
        taken = s.execute(
            update(PasswordResetLink)
            .where(PasswordResetLink.id == link.id, PasswordResetLink.used_at.is_(None))
            .values(used_at=utcnow())
        )
        if not taken.rowcount:  # type: ignore[attr-defined]
            raise NotFound(N_("this reset link is used up or expired; ask for a new one"))
        s.execute(
            update(PasswordResetLink)
            .where(PasswordResetLink.mailbox_id == link.mailbox_id, PasswordResetLink.used_at.is_(None))
            .values(used_at=utcnow())
        )
        mailbox = s.get_one(Mailbox, link.mailbox_id)
        if not (mailbox.active and mailbox.domain.active):
            raise InvalidValue(N_("this account is disabled"))
        mailbox.password_hash = new_hash
        sign_out_sessions(s, mailbox.id)
        owner = Actor(scope_of(mailbox.address, is_global_admin=False, managed_domains=()), ip=ip)
        audit.record(s, owner, "mailbox.password-reset", mailbox.address, mailbox.domain.name)
        return mailbox.address
