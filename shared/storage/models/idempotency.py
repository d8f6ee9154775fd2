from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.storage.models.base import Base, Timestamped


class IdempotentSend(Timestamped, Base):
    """One `Idempotency-Key` a send token used: the first request's answer, kept 24 hours.

    The row is inserted before the message is sent, so a concurrent request with the same key
    hits the unique constraint instead of sending a second copy; `answer` is empty until the
    first request finished."""

    __tablename__ = "idempotent_send"
    # created_at: the smtp worker's sweep deletes the keys past 24 hours.
    __table_args__ = (UniqueConstraint("token_id", "key"), Index("ix_idempotent_send_created_at", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(Text, default="")
