from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.storage.models.base import Base, utcnow


class AuditEntry(Base):
    """Who changed what, when and from where. `domain` lets managers see their own domains' history."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320), default="", index=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(320), default="")
    domain: Mapped[str] = mapped_column(String(255), default="", index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    # The API token the change was made with, if any: its id and its name as they were then,
    # with no foreign key, so the entry keeps naming it after the token is revoked.
    token_id: Mapped[int | None] = mapped_column(default=None)
    token_name: Mapped[str] = mapped_column(String(120), default="")
