"""A mailbox's second factors (TOTP, passkeys, recovery codes), its portal sessions and its
password-reset links. Secrets given to a person or a browser are stored only as hashes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.storage.models.base import Base, Timestamped, utcnow


class TotpFactor(Timestamped, Base):
    """The mailbox's authenticator app (RFC 6238). Unconfirmed while the owner has not yet typed
    a code from it; `last_step` is the time step of the last code accepted, so a code is taken once."""

    __tablename__ = "totp_factor"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    confirmed: Mapped[bool] = mapped_column(default=False)
    last_step: Mapped[int | None] = mapped_column(default=None)


class RecoveryCode(Base):
    """One single-use code that stands in for the second factor; only its SHA-256 is kept."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Passkey(Timestamped, Base):
    """A WebAuthn credential (passkey or security key) registered as a second factor."""

    __tablename__ = "passkey"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(120), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class PortalSession(Timestamped, Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is kept here,
    and a session whose row is gone is signed out."""

    __tablename__ = "portal_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str] = mapped_column(String(512), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PasswordResetLink(Timestamped, Base):
    """A single-use password-reset link mailed to the recovery address; only its SHA-256 is kept."""

    __tablename__ = "password_reset_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
