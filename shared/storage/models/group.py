from __future__ import annotations

import enum

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.storage.models.base import Base, Timestamped


class SendingPolicy(enum.Enum):
    ANYONE = "anyone"
    DOMAIN = "domain"
    MEMBERS = "members"


class GroupMailbox(Timestamped, Base):
    """An address whose mail goes to every member; `policy` says who may write to it."""

    __tablename__ = "group_mailbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    policy: Mapped[SendingPolicy] = mapped_column(
        Enum(SendingPolicy, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=SendingPolicy.ANYONE,
    )

    members: Mapped[list[GroupMember]] = relationship(
        cascade="all, delete-orphan", order_by="GroupMember.address", lazy="selectin"
    )


class GroupMember(Base):
    __tablename__ = "group_member"

    group_id: Mapped[int] = mapped_column(ForeignKey("group_mailbox.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True, index=True)
