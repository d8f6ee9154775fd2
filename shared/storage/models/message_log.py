"""The message log: one row per message we accepted (or refused), one per recipient with its
current state, and one event per change of that state, the recipient's timeline.

A log id is time-ordered text (milliseconds since the epoch in 12 hex digits, then 8 random
hex digits), so the primary key alone orders the log, pages it (a cursor is the last id
seen) and answers `since`/`until` as a key range: no index on a timestamp is needed.
Statuses and ways in are plain strings checked in shared.mail.message_log, so the rows can
be written with prepared raw statements in the delivery's own transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.storage.models.base import Base

LOG_ID_LENGTH = 20


class LoggedMessage(Base):
    __tablename__ = "message_log"
    __table_args__ = (
        Index("ix_message_log_sender", "sender", "id"),
        Index("ix_message_log_sender_domain", "sender_domain", "id"),
        Index("ix_message_log_message_id", "message_id"),
    )

    id: Mapped[str] = mapped_column(String(LOG_ID_LENGTH), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(500))  # the Message-ID header, without <>
    sender: Mapped[str] = mapped_column(String(320))  # "" is the null reverse-path <>
    sender_domain: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    via: Mapped[str] = mapped_column(String(16))  # mx | submission | api
    client_ip: Mapped[str] = mapped_column(String(45))
    username: Mapped[str] = mapped_column(String(320))  # the authenticated user, "" for none
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # One bit per status any of its recipients has had (shared.mail.message_log.STATUS_BITS),
    # so a search by status skips the messages without it before looking at their recipients.
    status_bits: Mapped[int] = mapped_column(Integer, server_default="0")


class LoggedRecipient(Base):
    __tablename__ = "message_log_recipient"
    __table_args__ = (
        Index("ix_message_log_recipient_address", "address", "log_id"),
        Index("ix_message_log_recipient_domain", "domain", "log_id"),
        Index("ix_message_log_recipient_status", "status", "log_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    log_id: Mapped[str] = mapped_column(ForeignKey("message_log.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    domain: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    reply: Mapped[str] = mapped_column(Text)  # the last remote reply, or ours for a refusal
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LogEvent(Base):
    __tablename__ = "message_log_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    log_id: Mapped[str] = mapped_column(ForeignKey("message_log.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))
    reply: Mapped[str] = mapped_column(Text)
    relay: Mapped[str] = mapped_column(String(300))  # the next hop that answered, "local" for a mailbox
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
