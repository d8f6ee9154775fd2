from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.storage.models.base import Base, Timestamped


class Alias(Timestamped, Base):
    """`source` is a full address, or `@domain` for the domain's catch-all."""

    __tablename__ = "alias"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(320), unique=True)

    destinations: Mapped[list[AliasDestination]] = relationship(
        cascade="all, delete-orphan", order_by="AliasDestination.position", lazy="selectin"
    )


class AliasDestination(Base):
    __tablename__ = "alias_destination"

    alias_id: Mapped[int] = mapped_column(ForeignKey("alias.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), index=True)
