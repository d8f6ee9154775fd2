from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.storage.models.base import Base


class ImapUsage(Base):
    """A mailbox's totals over all its folders as last counted after an IMAP change, written by
    Dovecot's quota_clone plugin through its SQL dict (shared.accounts.imap_login renders the
    map) and by our recount of the Maildir when Dovecot reports a change (quota.recount_after_imap).
    Nothing of ours reads it: migration 0009's triggers copy each write into the mailbox's
    counters and move its domain's total by the difference, in the same statement."""

    __tablename__ = "imap_usage"

    # Dovecot's user name, which our passdb answers with the mailbox's address.
    address: Mapped[str] = mapped_column(
        String(320), ForeignKey("mailbox.address", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    messages: Mapped[int] = mapped_column(default=0)
