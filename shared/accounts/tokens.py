"""API bearer tokens: made once and shown once, stored as a hash, scoped, optionally expiring.

A token reads `bm_<prefix>.<secret>`. The prefix finds the row; the SHA-256 of the whole
token is compared in constant time (the secret has 256 bits, so a slow hash adds nothing).
A token acts with its owner's current rights, narrowed to its domains (none listed =
all the owner manages) and to reading when read-only. A send token (scope `send`) may
only send mail as its owner, who may be any mailbox.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session, selectinload

from shared.accounts import audit
from shared.accounts.permissions import (
    Scope,
    domain_in_scope,
    require_global_admin,
    require_manager,
    require_write,
    scope_of,
)
from shared.accounts.views import Actor, TokenRef
from shared.errors import N_, AuthFailed, InvalidValue, NotFound
from shared.storage.db import Database
from shared.storage.lookups import domain_by_name, mailbox_by_address
from shared.storage.models import ApiToken, Domain, Mailbox, api_token_domain
from shared.storage.times import as_utc

TOKEN_START = "bm_"
PREFIX_BYTES = 6
SECRET_BYTES = 32
HASH_SCHEME = "sha256$"
# Writing last_used_at on every call would serialise API reads on SQLite; once a minute is enough.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    owner: str
    prefix: str
    domains: tuple[str, ...]
    read_only: bool
    sends_mail: bool
    expires_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, token: ApiToken, owner: str) -> TokenView:
        return cls(
            id=token.id,
            name=token.name,
            owner=owner,
            prefix=token.prefix,
            domains=tuple(domain.name for domain in token.domains),
            read_only=token.read_only,
            sends_mail=token.sends_mail,
            expires_at=as_utc(token.expires_at),
            last_used_at=as_utc(token.last_used_at),
            created_at=as_utc(token.created_at),
        )


@dataclass(frozen=True)
class IssuedToken:
    """A new token: `secret` is the only copy of the bearer string; show it once."""

    secret: str
    token: TokenView


@dataclass(frozen=True)
class TokenGrant:
    """What a verified token may do right now."""

    token: TokenRef
    scope: Scope


def _digest(token: str) -> str:
    return HASH_SCHEME + hashlib.sha256(token.encode("utf-8")).hexdigest()


def _owner_scope(owner: Mailbox) -> Scope:
    return scope_of(
        owner.address,
        is_global_admin=owner.is_global_admin,
        managed_domains=[domain.name for domain in owner.managed_domains],
    )


def create_token(
    db: Database,
    owner: str,
    *,
    name: str,
    domains: Iterable[str] = (),
    read_only: bool = True,
    sends_mail: bool = False,
    expires_at: datetime | None = None,
    actor: Actor,
) -> IssuedToken:
    """Issue a token for `owner` (a global admin or domain manager) within their rights: the
    actor's own, or anyone's when the actor is a global admin. A send token (`sends_mail`)
    may belong to any mailbox and is limited to no domains: it sends as its owner."""
    expiry = as_utc(expires_at)
    if expiry is not None and expiry <= datetime.now(UTC):
        raise InvalidValue(N_("the expiry must be in the future"))
    if sends_mail and domains:
        raise InvalidValue(N_("a send token sends as its owner: it takes no domains"))
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = f"{TOKEN_START}{prefix}.{secrets.token_urlsafe(SECRET_BYTES)}"
    with db.session.begin() as s:
        require_write(actor.scope)
        if owner != actor.address:
            require_global_admin(actor.scope)
        holder = mailbox_by_address(s, owner)
        rights = _owner_scope(holder)
        if not sends_mail:
            require_manager(rights)
        names = sorted({domain_in_scope(rights, text) for text in domains})
        token = ApiToken(
            owner_id=holder.id,
            name=name.strip(),
            prefix=prefix,
            token_hash=_digest(secret),
            read_only=read_only or sends_mail,
            sends_mail=sends_mail,
            expires_at=expiry,
        )
        token.domains = [domain_by_name(s, domain) for domain in names]
        s.add(token)
        s.flush()
        access = "send" if sends_mail else "read-only" if read_only else "read-write"
        detail = f"{token.name} {access} domains={','.join(names) or '*'} expires={expiry.isoformat() if expiry else 'never'}"
        audit.record(s, actor, "token.create", prefix, names[0] if len(names) == 1 else "", detail)
        return IssuedToken(secret, TokenView.of(token, holder.address))


def _owned(actor: Actor, owner: str | None) -> list[ColumnElement[bool]]:
    """Global admins see and revoke every token (or `owner`'s); others only their own."""
    owners = [owner] if owner is not None else []
    if not actor.scope.is_global_admin:
        owners.append(actor.address)
    return [Mailbox.address == address for address in owners]


def list_tokens(db: Database, *, actor: Actor, owner: str | None = None) -> list[TokenView]:
    """The tokens the actor sees (only `owner`'s, if given), newest first."""
    query = select(ApiToken, Mailbox.address).join(Mailbox, ApiToken.owner_id == Mailbox.id)
    query = query.where(*_owned(actor, owner))
    query = query.options(selectinload(ApiToken.domains)).order_by(ApiToken.id.desc())
    with db.session.begin() as s:
        return [TokenView.of(token, address) for token, address in s.execute(query)]


def _visible_token(s: Session, actor: Actor, token_id: int) -> tuple[ApiToken, str]:
    """A token the actor sees, with its owner's address (any other is NotFound)."""
    query = select(ApiToken, Mailbox.address).join(Mailbox, ApiToken.owner_id == Mailbox.id)
    found = s.execute(query.where(ApiToken.id == token_id, *_owned(actor, None))).one_or_none()
    if found is None:
        raise NotFound(N_("unknown token: %(token)s"), token=token_id)
    token, owner = found
    return token, owner


def get_token(db: Database, token_id: int, *, actor: Actor) -> TokenView:
    """A token the actor sees (any other is NotFound)."""
    with db.session.begin() as s:
        return TokenView.of(*_visible_token(s, actor, token_id))


def revoke_token(db: Database, token_id: int, *, actor: Actor) -> None:
    """Delete a token the actor sees (any other is NotFound)."""
    with db.session.begin() as s:
        require_write(actor.scope)
        token, _owner = _visible_token(s, actor, token_id)
        audit.record(s, actor, "token.revoke", token.prefix, "", token.name)
        s.delete(token)


# What verifying a token reads first, in one statement: the token, its owner's address and
# whether owner and domain are active. A send token's rights follow from that alone; other
# tokens load their owner's roles and their domains after it.
_TOKEN_AND_OWNER = (
    select(
        ApiToken.id,
        ApiToken.name,
        ApiToken.token_hash,
        ApiToken.expires_at,
        ApiToken.last_used_at,
        ApiToken.sends_mail,
        ApiToken.owner_id,
        Mailbox.address,
        (Mailbox.active & Domain.active).label("usable"),
    )
    .join(Mailbox, Mailbox.id == ApiToken.owner_id)
    .join(Domain, Domain.id == Mailbox.domain_id)
)


def verify_token(db: Database, presented: str, *, now: datetime | None = None) -> TokenGrant:
    """The rights of a bearer token, or AuthFailed (one message for every reason). Checked
    against the database on every call, so a revoked token stops at once."""
    moment = now or datetime.now(UTC)
    prefix = presented.removeprefix(TOKEN_START).partition(".")[0]
    if not presented.startswith(TOKEN_START) or len(prefix) != 2 * PREFIX_BYTES:
        raise AuthFailed(N_("invalid or expired token"))
    # Read without SQLite's write lock: every API call verifies, and the write below is rare.
    with db.read_session.begin() as s:
        row = s.execute(_TOKEN_AND_OWNER.where(ApiToken.prefix == prefix)).one_or_none()
        if row is None or not hmac.compare_digest(row.token_hash, _digest(presented)):
            raise AuthFailed(N_("invalid or expired token"))
        expires = as_utc(row.expires_at)
        if (expires is not None and expires <= moment) or not row.usable:
            raise AuthFailed(N_("invalid or expired token"))
        if row.sends_mail:
            scope = Scope(row.address, read_only=True, sends_mail=True)
        else:
            token, owner = s.get_one(ApiToken, row.id), s.get_one(Mailbox, row.owner_id)
            scope = _owner_scope(owner).narrowed([d.name for d in token.domains], read_only=token.read_only)
    grant = TokenGrant(TokenRef(row.id, row.name), scope)
    last_used = as_utc(row.last_used_at)
    if last_used is None or moment - last_used >= LAST_USED_PRECISION:
        with db.session.begin() as s:
            s.execute(update(ApiToken).where(ApiToken.id == grant.token.id).values(last_used_at=moment))
    return grant


def revoke_tokens_of_domain(s: Session, domain_id: int) -> None:
    """Called in the transaction that removes a domain: a token narrowed to it is revoked,
    because with the domain gone its list could come out empty, which would mean "all"."""
    scoped_to_it = select(api_token_domain.c.token_id).where(api_token_domain.c.domain_id == domain_id)
    s.execute(delete(ApiToken).where(ApiToken.id.in_(scoped_to_it)))
