"""Portal sessions kept on the server: the cookie holds a random token, the table its digest
with the device (User-Agent), the client address and when it was last seen. The owner lists
them and signs out any or all; `check_portal_session` runs at every request."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from shared.accounts import audit
from shared.accounts.factor_check import second_factor_of
from shared.accounts.mailboxes import administered_mailbox
from shared.accounts.signouts import sign_out_sessions, token_digest
from shared.accounts.views import Actor
from shared.errors import N_, NotFound
from shared.mail.addresses import parse_address
from shared.storage.db import Database
from shared.storage.lookups import mailbox_by_address
from shared.storage.models import Domain, Mailbox, PortalSession, utcnow
from shared.storage.times import as_utc

# "Last seen" is written at most this often per session: not one write per page view.
SEEN_EVERY = timedelta(minutes=1)
# A session unused this long is over (the portal's cookie lives as long); its row goes at the
# owner's next sign-in.
IDLE_LIMIT = timedelta(hours=8)
MAX_USER_AGENT = 512


@dataclass(frozen=True)
class SessionCheck:
    """A live session, and whether its user must enrol a second factor before anything else."""

    id: int
    must_enrol: bool


@dataclass(frozen=True)
class PortalSessionView:
    id: int
    user_agent: str
    ip: str
    created_at: datetime
    last_seen_at: datetime


def open_portal_session(db: Database, address: str, *, ip: str, user_agent: str) -> str:
    """A new session of the mailbox that just signed in; returns the token for its cookie."""
    token = secrets.token_urlsafe(32)
    with db.session.begin() as s:
        mailbox = mailbox_by_address(s, str(parse_address(address)))
        s.execute(
            delete(PortalSession).where(
                PortalSession.mailbox_id == mailbox.id, PortalSession.last_seen_at < utcnow() - IDLE_LIMIT
            )
        )
        s.add(
            PortalSession(
                mailbox_id=mailbox.id, token_hash=token_digest(token), user_agent=user_agent[:MAX_USER_AGENT], ip=ip[:64]
            )
        )
    return token


def check_portal_session(db: Database, address: str, token: str) -> SessionCheck | None:
    """The session if it is still open for this mailbox (None once signed out or idle too
    long), noting that it was seen. `must_enrol`: its domain requires two-factor sign-in and the mailbox has no factor."""
    with db.session.begin() as s:
        found = s.execute(
            select(PortalSession.id, PortalSession.last_seen_at, Domain.require_2fa & ~second_factor_of(Mailbox.id))
            .join(Mailbox, Mailbox.id == PortalSession.mailbox_id)
            .join(Domain, Domain.id == Mailbox.domain_id)
            .where(PortalSession.token_hash == token_digest(token), Mailbox.address == address)
        ).one_or_none()
        if found is None:
            return None
        session_id, last_seen, must_enrol = found
        now = utcnow()
        if as_utc(last_seen) < now - IDLE_LIMIT - SEEN_EVERY:
            return None
        if as_utc(last_seen) < now - SEEN_EVERY:
            s.execute(update(PortalSession).where(PortalSession.id == session_id).values(last_seen_at=now))
        return SessionCheck(session_id, bool(must_enrol))


def close_portal_session(db: Database, token: str) -> None:
    """Sign-out from the browser that holds `token`."""
    with db.session.begin() as s:
        s.execute(delete(PortalSession).where(PortalSession.token_hash == token_digest(token)))


def list_portal_sessions(db: Database, address: str, *, actor: Actor) -> list[PortalSessionView]:
    """The open sessions of the actor's own mailbox (or one it may change), last seen first."""
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        rows = s.scalars(
            select(PortalSession)
            .where(PortalSession.mailbox_id == mailbox.id, PortalSession.last_seen_at >= utcnow() - IDLE_LIMIT)
            .order_by(PortalSession.last_seen_at.desc(), PortalSession.id.desc())
        )
        return [
            PortalSessionView(row.id, row.user_agent, row.ip, as_utc(row.created_at), as_utc(row.last_seen_at))
            for row in rows
        ]


def end_portal_session(db: Database, address: str, session_id: int, *, actor: Actor) -> None:
    """Sign one session out."""
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        row = s.get(PortalSession, session_id)
        if row is None or row.mailbox_id != mailbox.id:
            raise NotFound(N_("no such session: %(id)s"), id=session_id)
        s.delete(row)
        audit.record(s, actor, "session.end", mailbox.address, mailbox.domain.name, str(session_id))


def end_portal_sessions(db: Database, address: str, *, actor: Actor, keep_token: str | None = None) -> int:
    """Sign every session out, but the one holding `keep_token`; how many ended."""
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        ended = sign_out_sessions(s, mailbox.id, keep_token=keep_token)
        audit.record(s, actor, "session.end-all", mailbox.address, mailbox.domain.name, f"{ended} ended")
        return ended
