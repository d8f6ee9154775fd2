from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, String, Table, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.storage.models.base import Base, Timestamped
from shared.storage.models.domain import Domain
from shared.storage.models.login import MailboxLogin

# The search indexes of migration 0005 live outside these models, because neither can be
# declared for both databases: on PostgreSQL, pg_trgm GIN indexes on address and lower(name); on
# SQLite, an FTS5 trigram table (SEARCH_TABLE, with its shadow tables) kept in step with mailbox
# by triggers. A migration that recreates the mailbox table on SQLite (batch "move and copy")
# drops those triggers and must make them again.
SEARCH_TABLE = "mailbox_search"
SEARCH_INDEXES = ("ix_mailbox_address_trgm", "ix_mailbox_name_trgm")


def is_search_index(name: str | None) -> bool:
    """Whether a database object is one of those search indexes (for schema comparisons)."""
    return bool(name) and (name in SEARCH_INDEXES or str(name).startswith(SEARCH_TABLE))


domain_manager = Table(
    "domain_manager",
    Base.metadata,
    Column("mailbox_id", ForeignKey("mailbox.id", ondelete="CASCADE"), primary_key=True),
    Column("domain_id", ForeignKey("domain.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Mailbox(Timestamped, Base):
    """A user's mailbox and login. `address` is the normalised full address, the lookup key."""

    __tablename__ = "mailbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id", ondelete="CASCADE"), index=True)
    local: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    quota_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    message_count: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    smtp_enabled: Mapped[bool] = mapped_column(default=True)
    pop3_enabled: Mapped[bool] = mapped_column(default=True)
    imap_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Indexed: mail to postmaster@ falls back to the global admins on every RCPT.
    is_global_admin: Mapped[bool] = mapped_column(default=False, index=True)
    maildir: Mapped[str] = mapped_column(String(512))
    lease_holder: Mapped[str | None] = mapped_column(String(255), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # With forwards: whether a copy still goes into this mailbox.
    keep_copy: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Where password-reset links go: an address outside the hosted domains, or None.
    recovery_address: Mapped[str | None] = mapped_column(String(320), default=None)

    domain: Mapped[Domain] = relationship()
    managed_domains: Mapped[list[Domain]] = relationship(secondary=domain_manager, order_by=Domain.name)
    # selectin: routing reads the forwards of every mailbox it meets, in one batched query.
    forwards: Mapped[list[MailboxForward]] = relationship(
        cascade="all, delete-orphan", order_by="MailboxForward.position", lazy="selectin"
    )
    # Read only where a page or record shows them (views.MailboxView.of with `logins`), never on a login.
    logins: Mapped[list[MailboxLogin]] = relationship(order_by=MailboxLogin.protocol, viewonly=True)

    def __repr__(self) -> str:
        return f"Mailbox(id={self.id!r}, address={self.address!r})"


class MailboxForward(Base):
    """One address a mailbox's owner forwards their mail to (local or external)."""

    __tablename__ = "mailbox_forward"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
