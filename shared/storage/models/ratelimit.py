from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.storage.models.base import Base


class SubmissionWindow(Base):
    """How many messages a user submitted in one clock hour, shared by every smtp replica."""

    __tablename__ = "submission_window"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
