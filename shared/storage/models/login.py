"""Logging in: app passwords, the lockout's counters and each mailbox's last login per protocol."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.storage.models.base import Base, Timestamped

# The longest text form of a client address (IPv6 with an IPv4 tail).
IP_LENGTH = 45


class AppPassword(Timestamped, Base):
    """A generated password for the protocols it names. Only its SHA-256 is kept; `prefix`,
    the password's first characters, finds the row."""

    __tablename__ = "app_password"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    smtp_enabled: Mapped[bool] = mapped_column(default=True)
    pop3_enabled: Mapped[bool] = mapped_column(default=True)
    imap_enabled: Mapped[bool] = mapped_column(default=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_used_from: Mapped[str | None] = mapped_column(String(IP_LENGTH), default=None)


class LoginFailure(Base):
    """Failed logins to one account (as typed, normalised) from one client address in the
    current window, and until when that address is refused for that account."""

    __tablename__ = "login_failure"

    account: Mapped[str] = mapped_column(String(320), primary_key=True)
    client_ip: Mapped[str] = mapped_column(String(IP_LENGTH), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), index=True)
    failures: Mapped[int] = mapped_column(default=0)
    # Indexed: the sweep of stale rows and the list of current locks read by these.
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None, index=True)


class MailboxLogin(Base):
    """A mailbox's last successful login over one protocol (portal, smtp, pop3, imap)."""

    __tablename__ = "mailbox_login"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"), primary_key=True)
    protocol: Mapped[str] = mapped_column(String(8), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    client_ip: Mapped[str] = mapped_column(String(IP_LENGTH))
