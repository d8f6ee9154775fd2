"""Whether a mailbox has a second factor: its own module, as every password check asks it
(the mail services refuse such a mailbox's main password; the portal asks for the factor)."""
from __future__ import annotations

from sqlalchemy import ColumnElement, ColumnExpressionArgument, exists, or_, select
from sqlalchemy.orm import Session

from shared.storage.models import Passkey, TotpFactor


def second_factor_of(mailbox_id: ColumnExpressionArgument[int] | int) -> ColumnElement[bool]:
    """Whether the mailbox has a confirmed authenticator app or a passkey, as SQL: the one rule,
    asked by `has_second_factor` and written into Dovecot's passdb query (`imap_login`)."""
    return or_(
        exists().where(TotpFactor.mailbox_id == mailbox_id, TotpFactor.confirmed.is_(True)),
        exists().where(Passkey.mailbox_id == mailbox_id),
    )


def has_second_factor(s: Session, mailbox_id: int) -> bool:
    return bool(s.scalar(select(second_factor_of(mailbox_id))))
