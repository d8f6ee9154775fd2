"""Webhooks: endpoints a domain's managers register, and the deliveries waiting to be made.

A delivery row is one event for one endpoint; it is deleted once the endpoint answered 2xx,
so the table only ever holds what is still to be sent.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.storage.models.base import Base, Timestamped


class Webhook(Timestamped, Base):
    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[str] = mapped_column(String(255))  # space-separated event names
    secret: Mapped[str] = mapped_column(String(128))  # whsec_<base64>: signing needs the key itself
    # Set when deliveries kept failing for the whole retry period; no events are queued for it then.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")


class WebhookDelivery(Base):
    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(64))  # the `webhook-id` header, the same on every retry
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
