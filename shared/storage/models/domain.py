from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.storage.models.base import Base, Timestamped


class Domain(Timestamped, Base):
    """A hosted domain; `name` is the lower-case IDNA A-label. Zero means "no limit"."""

    __tablename__ = "domain"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    max_mailboxes: Mapped[int] = mapped_column(default=0)
    max_aliases: Mapped[int] = mapped_column(default=0)
    quota_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    default_mailbox_quota: Mapped[int] = mapped_column(BigInteger, default=0)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Mail from the internet to this domain is held to the sender's SPF, DKIM and DMARC, its
    # forged use of a hosted domain is refused, and rspamd's verdict is applied.
    inbound_checks: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Mailboxes' own forwarding may only go to hosted domains; forwards already saved to other
    # domains are left unused by routing (their mail stays in the mailbox). Aliases and groups,
    # which managers make, are not governed by it.
    forbid_external_forwarding: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Its users must enrol a second factor at their next portal sign-in before any other page.
    require_2fa: Mapped[bool] = mapped_column(default=False, server_default=false())

    alias_domains: Mapped[list[AliasDomain]] = relationship(
        back_populates="domain", cascade="all, delete-orphan", order_by="AliasDomain.name"
    )


class AliasDomain(Timestamped, Base):
    """Another name whose mail is delivered into `domain` (same local parts)."""

    __tablename__ = "alias_domain"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id", ondelete="CASCADE"), index=True)

    domain: Mapped[Domain] = relationship(back_populates="alias_domains")
