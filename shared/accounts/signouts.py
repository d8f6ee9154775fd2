"""Signing a mailbox's portal sessions out: every one, or all but the one that asked (a
password change). A session whose row is gone is refused at its next request."""
from __future__ import annotations

import hashlib

from sqlalchemy import delete
from sqlalchemy.orm import Session

from shared.storage.models import PortalSession


def token_digest(token: str) -> str:
    """What the database keeps of a random token handed out (session, reset link): 256 random
    bits need no slow hash, and a stolen table gives no working cookie or link."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def sign_out_sessions(s: Session, mailbox_id: int, *, keep_token: str | None = None) -> int:
    """End the mailbox's portal sessions, except the one with `keep_token`; how many ended."""
    query = delete(PortalSession).where(PortalSession.mailbox_id == mailbox_id)
    if keep_token is not None:
        query = query.where(PortalSession.token_hash != token_digest(keep_token))
    return int(s.execute(query).rowcount)  # type: ignore[attr-defined]
