from __future__ import annotations

import enum

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.storage.models.base import Base, Timestamped


class SenderListing(enum.Enum):
    ALLOW = "allow"  # rspamd's junk verdict is skipped for this sender
    BLOCK = "block"  # refused at the end of DATA


class SenderRule(Timestamped, Base):
    """A hosted domain's allow or block listing of a sender: a whole address (`local@domain`,
    lower case) or a whole domain (`domain`, its IDNA A-label), matched on the envelope sender
    and the `From:` address of mail arriving on the MX."""

    __tablename__ = "sender_rule"
    __table_args__ = (UniqueConstraint("domain_id", "sender"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id", ondelete="CASCADE"), index=True)
    sender: Mapped[str] = mapped_column(String(320))
    listing: Mapped[SenderListing] = mapped_column(
        Enum(SenderListing, native_enum=False, length=5, values_callable=lambda e: [m.value for m in e])
    )
