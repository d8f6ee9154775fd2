"""Passkeys and security keys (WebAuthn) as a second factor of the portal sign-in, through
py_webauthn. The portal keeps each ceremony's challenge in its signed session cookie and hands
it back; the relying party is the host name the browser shows the portal under."""
from __future__ import annotations

import json
from dataclasses import dataclass

import webauthn
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from shared.accounts import audit
from shared.accounts.mailboxes import administered_mailbox
from shared.accounts.second_factors import PasskeyView, own_mailbox
from shared.accounts.views import Actor
from shared.errors import N_, Conflict, InvalidValue, NotFound
from shared.mail.addresses import parse_address
from shared.storage.db import Database
from shared.storage.lookups import mailbox_by_address
from shared.storage.models import Mailbox, Passkey, utcnow

MAX_NAME = 120


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the portal's host name
    origin: str  # scheme://host[:port], as the browser reports it
    name: str = "Beacon Mail"


@dataclass(frozen=True)
class Ceremony:
    """Options for the browser (JSON) and the challenge the answer must sign."""

    options: str
    challenge: bytes


def _descriptors(s: Session, mailbox: Mailbox) -> list[PublicKeyCredentialDescriptor]:
    found = s.scalars(select(Passkey.credential_id).where(Passkey.mailbox_id == mailbox.id))
    return [PublicKeyCredentialDescriptor(id=credential_id) for credential_id in found]


def begin_passkey_registration(db: Database, address: str, rp: RelyingParty, *, actor: Actor) -> Ceremony:
    """Options to register one more passkey of the owner (none it has already)."""
    with db.session.begin() as s:
        mailbox = own_mailbox(s, actor, address)
        options = webauthn.generate_registration_options(
            rp_id=rp.id,
            rp_name=rp.name,
            user_id=str(mailbox.id).encode("ascii"),
            user_name=mailbox.address,
            exclude_credentials=_descriptors(s, mailbox),
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.DISCOURAGED,
                user_verification=UserVerificationRequirement.DISCOURAGED,
            ),
        )
    return Ceremony(webauthn.options_to_json(options), options.challenge)


def add_passkey(
    db: Database, address: str, response: str, *, challenge: bytes, rp: RelyingParty, name: str, actor: Actor
) -> PasskeyView:
    """Keep the passkey the browser made, once its answer checks out against `challenge`."""
    label = " ".join(name.split())[:MAX_NAME] or "Passkey"
    try:
        verified = webauthn.verify_registration_response(
            credential=response, expected_challenge=challenge, expected_rp_id=rp.id, expected_origin=rp.origin
        )
    except WebAuthnException as exc:
        raise InvalidValue(N_("the passkey was not accepted: %(reason)s"), reason=str(exc)) from None
    with db.session.begin() as s:
        mailbox = own_mailbox(s, actor, address)
        if s.scalar(select(Passkey.id).where(Passkey.credential_id == verified.credential_id)) is not None:
            raise Conflict(N_("this passkey is registered already"))
        passkey = Passkey(
            mailbox_id=mailbox.id,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            name=label,
        )
        s.add(passkey)
        s.flush()
        audit.record(s, actor, "2fa.passkey.add", mailbox.address, mailbox.domain.name, label)
        return PasskeyView(passkey.id, passkey.name, passkey.created_at, None)


def begin_passkey_sign_in(db: Database, address: str, rp: RelyingParty) -> Ceremony:
    """Options asking for one of the passkeys of a mailbox whose password was just checked."""
    with db.session.begin() as s:
        mailbox = mailbox_by_address(s, str(parse_address(address)))
        options = webauthn.generate_authentication_options(
            rp_id=rp.id,
            allow_credentials=_descriptors(s, mailbox),
            user_verification=UserVerificationRequirement.DISCOURAGED,
        )
    return Ceremony(webauthn.options_to_json(options), options.challenge)


def check_passkey(db: Database, address: str, response: str, *, challenge: bytes, rp: RelyingParty) -> bool:
    """Whether the browser's answer is signed by one of the mailbox's passkeys over `challenge`.
    The signature counter must grow (when the key keeps one): a cloned key shows up as a repeat."""
    try:
        credential_id = webauthn.base64url_to_bytes(_raw_id(response))
    except ValueError:
        return False
    with db.session.begin() as s:
        mailbox = mailbox_by_address(s, str(parse_address(address)))
        passkey = s.scalars(
            select(Passkey).where(Passkey.mailbox_id == mailbox.id, Passkey.credential_id == credential_id)
        ).one_or_none()
        if passkey is None:
            return False
        try:
            verified = webauthn.verify_authentication_response(
                credential=response,
                expected_challenge=challenge,
                expected_rp_id=rp.id,
                expected_origin=rp.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
            )
        except WebAuthnException:
            return False
        counted = s.execute(
            update(Passkey)
            .where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
            .values(sign_count=verified.new_sign_count, last_used_at=utcnow())
        )
        return bool(counted.rowcount)  # type: ignore[attr-defined]


def _raw_id(response: str) -> str:
    """The credential id the answer names (py_webauthn parses the rest, and checks it matches)."""
    parsed = json.loads(response)
    raw = parsed.get("rawId") if isinstance(parsed, dict) else None
    if not isinstance(raw, str):
        raise ValueError("no rawId")
    return raw


def remove_passkey(db: Database, address: str, passkey_id: int, *, actor: Actor) -> None:
    """Remove one passkey of the actor's own mailbox or of one it may change."""
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        removed = s.execute(delete(Passkey).where(Passkey.id == passkey_id, Passkey.mailbox_id == mailbox.id))
        if not removed.rowcount:  # type: ignore[attr-defined]
            raise NotFound(N_("no such passkey: %(id)s"), id=passkey_id)
        audit.record(s, actor, "2fa.passkey.remove", mailbox.address, mailbox.domain.name, str(passkey_id))
