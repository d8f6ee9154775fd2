"""The outbound queue: one row per message, one per recipient with its own delivery state.

The message body lives in the message store (a Maildir-shaped folder under the mail
root, shared by every replica); the row only points at it.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Enum, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.storage.models.base import Base, Timestamped


class DeliveryStatus(enum.Enum):
    HELD = "held"  # written, but the SMTP transaction that queued it has not committed yet
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class OutboundMessage(Timestamped, Base):
    __tablename__ = "outbound_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(String(320))  # "" is the null reverse-path <>
    body_path: Mapped[str] = mapped_column(String(512))
    size: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The message log entry (shared.mail.message_log) whose recipients this message carries;
    # None for mail the system writes itself (bounces, automatic replies).
    log_id: Mapped[str | None] = mapped_column(String(20), default=None, index=True)
    # What the sender asked for with DSN (RFC 3461; shared.mail.dsn_requests): RET (FULL or
    # HDRS) and ENVID (decoded), None when not given; whether its one delay notice went out.
    dsn_ret: Mapped[str | None] = mapped_column(String(4), default=None)
    dsn_envid: Mapped[str | None] = mapped_column(String(100), default=None)
    delay_notified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    recipients: Mapped[list[OutboundRecipient]] = relationship(
        back_populates="message", cascade="all, delete-orphan", passive_deletes=True
    )


class OutboundRecipient(Base):
    __tablename__ = "outbound_recipient"
    __table_args__ = (Index("ix_outbound_recipient_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbound_message.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    domain: Mapped[str] = mapped_column(String(255))
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_reply: Mapped[str] = mapped_column(Text, default="")
    claim_token: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # NOTIFY ("NEVER" or a comma list) and ORCPT ("addr-type;address", decoded); None when not given.
    dsn_notify: Mapped[str | None] = mapped_column(String(32), default=None)
    dsn_orcpt: Mapped[str | None] = mapped_column(String(500), default=None)

    message: Mapped[OutboundMessage] = relationship(back_populates="recipients")
