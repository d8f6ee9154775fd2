"""Second factors of the portal sign-in: an authenticator app (TOTP, RFC 6238), passkeys
(`passkeys`) and ten single-use recovery codes, and removing a user's factors. Whether a
mailbox has one is `factor_check`'s.

TOTP secrets stay readable in the database (the code is computed from them); recovery codes,
given to a person, are kept only as SHA-256 digests: each holds 50 random bits, which no
dictionary reaches, so a slow hash would only slow every sign-in with a code.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime

import pyotp
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from shared.accounts import audit
from shared.accounts.factor_check import has_second_factor
from shared.accounts.mailboxes import administered_mailbox, visible_mailbox
from shared.accounts.permissions import require_write, scope_of
from shared.accounts.views import Actor
from shared.errors import N_, Conflict, InvalidValue, NotFound, PermissionDenied
from shared.mail.addresses import parse_address
from shared.storage.db import Database
from shared.storage.lookups import mailbox_by_address
from shared.storage.models import Mailbox, Passkey, RecoveryCode, TotpFactor, utcnow

TOTP_ISSUER = "Beacon Mail"
RECOVERY_CODES = 10
# A code of the step before or after the current one is taken too: phones' clocks drift and
# people type slowly. RFC 6238 §5.2 recommends at most one step each way.
DRIFT_STEPS = 1
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes get typed from paper


@dataclass(frozen=True)
class TotpEnrolment:
    """What the enrolment page shows: the secret and the otpauth:// URI its QR code holds."""

    secret: str = field(repr=False)
    uri: str = field(repr=False)


@dataclass(frozen=True)
class PasskeyView:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class SecondFactors:
    totp: bool
    passkeys: tuple[PasskeyView, ...]
    recovery_codes_left: int

    @property
    def any(self) -> bool:
        return self.totp or bool(self.passkeys)


def _factors(s: Session, mailbox: Mailbox) -> SecondFactors:
    totp = s.get(TotpFactor, mailbox.id)
    passkeys = s.scalars(select(Passkey).where(Passkey.mailbox_id == mailbox.id).order_by(Passkey.id))
    codes_left = s.scalar(
        select(func.count()).where(RecoveryCode.mailbox_id == mailbox.id, RecoveryCode.used_at.is_(None))
    )
    return SecondFactors(
        totp=bool(totp and totp.confirmed),
        passkeys=tuple(PasskeyView(p.id, p.name, p.created_at, p.last_used_at) for p in passkeys),
        recovery_codes_left=codes_left or 0,
    )


def list_second_factors(db: Database, address: str, *, actor: Actor) -> SecondFactors:
    """The factors of the actor's own mailbox, or of one of its domains' mailboxes."""
    with db.session.begin() as s:
        return _factors(s, visible_mailbox(s, actor.scope, address, own=True))


def second_factors_at_sign_in(db: Database, address: str) -> SecondFactors:
    """The factors of a mailbox whose password was just checked (the sign-in asks for one)."""
    with db.session.begin() as s:
        return _factors(s, mailbox_by_address(s, str(parse_address(address))))


def own_mailbox(s: Session, actor: Actor, address: str) -> Mailbox:
    """Only the owner enrols a factor: it proves who holds the phone or the key."""
    require_write(actor.scope)
    if str(parse_address(address)) != actor.address:
        raise PermissionDenied(N_("only the owner of a mailbox enrols its second factors"))
    return mailbox_by_address(s, actor.address)


def begin_totp(db: Database, address: str, *, actor: Actor) -> TotpEnrolment:
    """A new secret for the owner's authenticator app, kept unconfirmed until a code from it comes back."""
    secret = pyotp.random_base32()
    with db.session.begin() as s:
        mailbox = own_mailbox(s, actor, address)
        current = s.get(TotpFactor, mailbox.id)
        if current is not None and current.confirmed:
            raise Conflict(N_("an authenticator app is set up already; remove it first"))
        if current is not None:
            s.delete(current)
            s.flush()
        s.add(TotpFactor(mailbox_id=mailbox.id, secret=secret, confirmed=False))
        uri = pyotp.TOTP(secret).provisioning_uri(name=mailbox.address, issuer_name=TOTP_ISSUER)
    return TotpEnrolment(secret, uri)


def pending_totp(db: Database, address: str, *, actor: Actor) -> TotpEnrolment | None:
    """The unconfirmed enrolment begun by `begin_totp`, to show again after a wrong code."""
    with db.session.begin() as s:
        mailbox = own_mailbox(s, actor, address)
        current = s.get(TotpFactor, mailbox.id)
        if current is None or current.confirmed:
            return None
        uri = pyotp.TOTP(current.secret).provisioning_uri(name=mailbox.address, issuer_name=TOTP_ISSUER)
        return TotpEnrolment(current.secret, uri)


def confirm_totp(db: Database, address: str, code: str, *, actor: Actor) -> tuple[str, ...]:
    """Switch the app on once a code from it matches; returns the new recovery codes, to be
    shown once (only their digests are kept)."""
    with db.session.begin() as s:
        mailbox = own_mailbox(s, actor, address)
        factor = s.get(TotpFactor, mailbox.id, with_for_update=True)
        if factor is None or factor.confirmed:
            raise NotFound(N_("no authenticator app is waiting to be confirmed"))
        step = _matching_step(factor.secret, code)
        if step is None:
            raise InvalidValue(N_("the code does not match: check the phone's clock and type the newest code"))
        factor.confirmed, factor.last_step = True, step
        codes = _replace_recovery_codes(s, mailbox.id)
        audit.record(s, actor, "2fa.totp.enrol", mailbox.address, mailbox.domain.name)
        return codes


def _matching_step(secret: str, code: str) -> int | None:
    """The time step whose code this is, within the allowed drift, or None."""
    typed = "".join(code.split())
    if not (typed.isdigit() and len(typed) == 6):
        return None
    totp, now = pyotp.TOTP(secret), int(time.time()) // 30
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * 30), typed):
            return step
    return None


def _digest(code: str) -> str:
    return hashlib.sha256("".join(code.lower().replace("-", "").split()).encode("utf-8")).hexdigest()


def _replace_recovery_codes(s: Session, mailbox_id: int) -> tuple[str, ...]:
    s.execute(delete(RecoveryCode).where(RecoveryCode.mailbox_id == mailbox_id))
    codes = tuple(
        "-".join("".join(secrets.choice(_CODE_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODES)
    )
    s.add_all(RecoveryCode(mailbox_id=mailbox_id, code_hash=_digest(code)) for code in codes)
    return codes


def check_second_factor(db: Database, address: str, code: str, *, ip: str) -> bool:
    """At sign-in: a code from the app, taken once (its step must be newer than the last one
    taken: a code seen over someone's shoulder is useless after its owner signed in with it), or
    an unused recovery code, which is used up (audited)."""
    with db.session.begin() as s:
        mailbox = mailbox_by_address(s, str(parse_address(address)))
        factor = s.get(TotpFactor, mailbox.id)
        step = _matching_step(factor.secret, code) if factor and factor.confirmed else None
        if step is not None:
            # One conditional UPDATE: two processes given the same code cannot both take it.
            taken = s.execute(
                update(TotpFactor)
                .where(TotpFactor.mailbox_id == mailbox.id, or_(TotpFactor.last_step.is_(None), TotpFactor.last_step < step))
                .values(last_step=step)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]
        used = s.execute(
            update(RecoveryCode)
            .where(RecoveryCode.mailbox_id == mailbox.id, RecoveryCode.code_hash == _digest(code), RecoveryCode.used_at.is_(None))
            .values(used_at=utcnow())
        )
        if not used.rowcount:  # type: ignore[attr-defined]
            return False
        owner = Actor(scope_of(mailbox.address, is_global_admin=False, managed_domains=()), ip=ip)
        audit.record(s, owner, "2fa.recovery-code.use", mailbox.address, mailbox.domain.name)
        return True


def new_recovery_codes(db: Database, address: str, *, actor: Actor) -> tuple[str, ...]:
    """Ten fresh codes for the owner (the old ones stop working), shown once."""
    with db.session.begin() as s:
        mailbox = own_mailbox(s, actor, address)
        if not has_second_factor(s, mailbox.id):
            raise NotFound(N_("recovery codes stand in for a second factor, and there is none"))
        codes = _replace_recovery_codes(s, mailbox.id)
        audit.record(s, actor, "2fa.recovery-codes.new", mailbox.address, mailbox.domain.name)
        return codes


def remove_second_factors(db: Database, address: str, *, actor: Actor) -> None:
    """Remove the app, the passkeys and the recovery codes of the actor's own mailbox or of one
    it may change (a user who lost their phone); the next sign-in asks for the password alone."""
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        for model in (TotpFactor, Passkey, RecoveryCode):
            s.execute(delete(model).where(model.mailbox_id == mailbox.id))
        audit.record(s, actor, "2fa.reset", mailbox.address, mailbox.domain.name)
