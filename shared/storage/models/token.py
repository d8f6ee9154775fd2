from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, String, Table, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.storage.models.base import Base, Timestamped
from shared.storage.models.domain import Domain

api_token_domain = Table(
    "api_token_domain",
    Base.metadata,
    Column("token_id", ForeignKey("api_token.id", ondelete="CASCADE"), primary_key=True),
    Column("domain_id", ForeignKey("domain.id", ondelete="CASCADE"), primary_key=True),
)


class ApiToken(Timestamped, Base):
    """A bearer token for the JSON API. Only a hash is stored; `prefix` finds the row.

    The token acts with its owner's rights, narrowed to `domains` (empty = all the
    owner may manage) and to reading when `read_only`. A `sends_mail` token does nothing
    but send mail as its owner (POST /api/v1/messages).
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(255))
    read_only: Mapped[bool] = mapped_column(default=True)
    sends_mail: Mapped[bool] = mapped_column(default=False, server_default=false())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    domains: Mapped[list[Domain]] = relationship(secondary=api_token_domain, order_by=Domain.name)
