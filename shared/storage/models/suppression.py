"""The suppression list: recipients a hosted domain stops sending to for a while, after a
remote server refused them for good (a 5xx, answered at once or in a later bounce).

One row per sending domain and address; an entry counts until `expires_at`, and a new hard
bounce of the same address renews it. The rows are written by shared.mail.suppressions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.storage.models.base import Base


class Suppression(Base):
    __tablename__ = "suppression"
    __table_args__ = (UniqueConstraint("domain_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))  # lower-cased, as the message log keeps it
    reason: Mapped[str] = mapped_column(Text)  # the remote server's reply
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
