"""App passwords: generated passwords, each for the protocols it names (smtp, pop3, imap) and
never for the portal, shown once, revocable, optionally expiring.

A password reads `<prefix>-<secret>`: 8 + 24 characters of a 32-letter alphabet without
look-alikes (l/1, o/0), so it can be typed from another screen. The prefix finds the row; the
SHA-256 of the whole password is compared. A fast hash is enough here, unlike for the
passwords people choose: the secret is 120 random bits, so no dictionary or brute force
reaches it however fast each guess is, and a login checks one hash instead of an argon2 run
(Dovecot checks the same digest with its SHA256.HEX scheme: shared.accounts.imap_login).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.accounts import audit
from shared.accounts.mailboxes import administered_mailbox, display_name, visible_mailbox
from shared.accounts.permissions import Scope
from shared.accounts.views import Actor, MailboxView
from shared.errors import N_, InvalidValue, NotFound
from shared.storage.db import Database
from shared.storage.models import AppPassword
from shared.storage.times import as_utc

PROTOCOLS = ("smtp", "pop3", "imap")
ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
PREFIX_LENGTH = 8
SECRET_LENGTH = 24
SHAPE = re.compile(rf"[{ALPHABET}]{{{PREFIX_LENGTH}}}-[{ALPHABET}]{{{SECRET_LENGTH}}}")
MAX_NAME = 120
MAX_DAYS = 36500


@dataclass(frozen=True)
class AppPasswordView:
    id: int
    name: str
    protocols: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    last_used_from: str | None

    @classmethod
    def of(cls, row: AppPassword) -> AppPasswordView:
        return cls(
            id=row.id,
            name=row.name,
            protocols=tuple(protocol for protocol in PROTOCOLS if getattr(row, f"{protocol}_enabled")),
            created_at=as_utc(row.created_at),
            expires_at=as_utc(row.expires_at) if row.expires_at else None,
            last_used_at=as_utc(row.last_used_at) if row.last_used_at else None,
            last_used_from=row.last_used_from,
        )


@dataclass(frozen=True)
class IssuedAppPassword:
    """A new app password: `password` is its only copy; show it once."""

    password: str
    app_password: AppPasswordView


@dataclass(frozen=True)
class AppPasswordMatch:
    """The app password a login presented, as the login needs it."""

    id: int
    name: str
    protocols: tuple[str, ...]
    expires_at: datetime | None
    last_used_at: datetime | None
    last_used_from: str | None
    digest_matches: bool

    @property
    def first_use(self) -> bool:
        return self.last_used_at is None

    def admits(self, protocol: str, now: datetime) -> bool:
        return self.digest_matches and protocol in self.protocols and (self.expires_at is None or self.expires_at > now)


def digest(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def looks_like_app_password(password: str) -> bool:
    return SHAPE.fullmatch(password) is not None


def _generate() -> str:
    def draw(length: int) -> str:
        return "".join(secrets.choice(ALPHABET) for _ in range(length))

    return f"{draw(PREFIX_LENGTH)}-{draw(SECRET_LENGTH)}"


def _protocols(wanted: Iterable[str]) -> tuple[str, ...]:
    chosen = {protocol.strip().lower() for protocol in wanted}
    unknown = sorted(chosen - set(PROTOCOLS))
    if unknown:
        raise InvalidValue(N_("unknown protocol '%(protocol)s': use smtp, pop3 or imap"), protocol=unknown[0])
    return tuple(protocol for protocol in PROTOCOLS if protocol in chosen) or PROTOCOLS


def _name(text: str) -> str:
    name = display_name(text)
    if not name or len(name) > MAX_NAME:
        raise InvalidValue(N_("the app password needs a name of 1 to %(count)d characters"), count=MAX_NAME)
    return name


def create_app_password(
    db: Database,
    address: str,
    *,
    name: str,
    protocols: Iterable[str] = (),
    expires_days: int | None = None,
    actor: Actor,
) -> IssuedAppPassword:
    """A new app password for the actor's own mailbox or one it may change; no protocols = all three."""
    chosen, label = _protocols(protocols), _name(name)
    if expires_days is not None and not 1 <= expires_days <= MAX_DAYS:
        raise InvalidValue(N_("the expiry must be 1 to %(count)d days"), count=MAX_DAYS)
    password = _generate()
    now = datetime.now(timezone.utc)
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        row = AppPassword(
            mailbox_id=mailbox.id,
            name=label,
            prefix=password[:PREFIX_LENGTH],
            secret_hash=digest(password),
            expires_at=now + timedelta(days=expires_days) if expires_days else None,
            created_at=now,
            **{f"{protocol}_enabled": protocol in chosen for protocol in PROTOCOLS},
        )
        s.add(row)
        s.flush()
        expiry = row.expires_at.isoformat(timespec="seconds") if row.expires_at else "never"
        detail = f"#{row.id} {label} protocols={','.join(chosen)} expires={expiry}"
        audit.record(s, actor, "app-password.create", mailbox.address, mailbox.domain.name, detail)
        return IssuedAppPassword(password, AppPasswordView.of(row))


def list_app_passwords(db: Database, address: str, *, actor: Actor) -> list[AppPasswordView]:
    """The app passwords of a mailbox the actor sees (its own included), oldest first."""
    with db.session.begin() as s:
        mailbox = visible_mailbox(s, actor.scope, address, own=True)
        rows = s.scalars(select(AppPassword).where(AppPassword.mailbox_id == mailbox.id).order_by(AppPassword.id))
        return [AppPasswordView.of(row) for row in rows]


def revoke_app_password(db: Database, address: str, app_password_id: int, *, actor: Actor) -> None:
    """Delete it: the next login with it is refused."""
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        row = s.scalars(
            select(AppPassword).where(AppPassword.id == app_password_id, AppPassword.mailbox_id == mailbox.id)
        ).one_or_none()
        if row is None:
            raise NotFound(N_("%(address)s has no app password %(id)s"), address=mailbox.address, id=app_password_id)
        audit.record(s, actor, "app-password.revoke", mailbox.address, mailbox.domain.name, f"#{row.id} {row.name}")
        s.delete(row)


def find_app_password(s: Session, mailbox_id: int, password: str) -> AppPasswordMatch | None:
    """The mailbox's app password that `password` names by its prefix, compared; None when it
    names none (then it may be the mailbox's own password)."""
    row = s.scalars(
        select(AppPassword).where(AppPassword.prefix == password[:PREFIX_LENGTH], AppPassword.mailbox_id == mailbox_id)
    ).one_or_none()
    return None if row is None else _match(row, hmac.compare_digest(row.secret_hash, digest(password)))


def app_password_by_id(s: Session, mailbox_id: int, app_password_id: int) -> AppPasswordMatch | None:
    """The mailbox's app password that Dovecot checked itself (so its digest matched)."""
    row = s.scalars(
        select(AppPassword).where(AppPassword.id == app_password_id, AppPassword.mailbox_id == mailbox_id)
    ).one_or_none()
    return None if row is None else _match(row, True)


def _match(row: AppPassword, digest_matches: bool) -> AppPasswordMatch:
    view = AppPasswordView.of(row)
    return AppPasswordMatch(
        id=row.id,
        name=row.name,
        protocols=view.protocols,
        expires_at=view.expires_at,
        last_used_at=view.last_used_at,
        last_used_from=view.last_used_from,
        digest_matches=digest_matches,
    )


def note_use(s: Session, match: AppPasswordMatch, owner: MailboxView, client_ip: str, now: datetime) -> None:
    """Record the app password's last use; its first use is audited."""
    s.execute(update(AppPassword).where(AppPassword.id == match.id).values(last_used_at=now, last_used_from=client_ip))
    if match.first_use:
        actor = Actor(Scope(owner.address), ip=client_ip)
        audit.record(s, actor, "app-password.first-use", owner.address, owner.domain, f"#{match.id} {match.name}")
