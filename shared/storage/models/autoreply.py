from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.storage.models.base import Base


class OutOfOffice(Base):
    """A mailbox's out-of-office reply. A table of its own, not mailbox columns, so the hot
    recipient lookups that load mailboxes never carry the reply text."""

    __tablename__ = "out_of_office"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    subject: Mapped[str] = mapped_column(String(255), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    # Both inclusive, in UTC; none means open-ended on that side.
    starts_on: Mapped[date | None] = mapped_column(Date, default=None)
    ends_on: Mapped[date | None] = mapped_column(Date, default=None)


class AutoReplySent(Base):
    """When a mailbox last answered a sender automatically: the once-per-interval memory that
    every smtp replica shares (RFC 3834 §2)."""

    __tablename__ = "auto_reply_sent"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"), primary_key=True)
    sender: Mapped[str] = mapped_column(String(320), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
