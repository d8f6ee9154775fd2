"""Use cases for a mailbox's out-of-office reply: its owner or a manager of its domain reads and sets it."""
from __future__ import annotations

from sqlalchemy.orm import Session

from shared.accounts import audit
from shared.accounts.mailboxes import administered_mailbox, visible_mailbox
from shared.accounts.views import Actor
from shared.mail.autoreply import Notice, checked_notice
from shared.storage.db import Database
from shared.storage.models import Mailbox, OutOfOffice


def get_out_of_office(db: Database, address: str, *, actor: Actor) -> Notice:
    """The out-of-office reply of the actor's own mailbox or of one of its domains."""
    with db.read_session.begin() as s:
        return _notice(s, visible_mailbox(s, actor.scope, address, own=True))


def set_out_of_office(db: Database, address: str, notice: Notice, *, actor: Actor) -> Notice:
    """Replace the out-of-office reply of the actor's own mailbox or of one it may change."""
    checked = checked_notice(notice)
    with db.session.begin() as s:
        mailbox = administered_mailbox(s, actor.scope, address, own=True)
        row = s.get(OutOfOffice, mailbox.id) or OutOfOffice(mailbox_id=mailbox.id)
        row.enabled, row.subject, row.text = checked.enabled, checked.subject, checked.text
        row.starts_on, row.ends_on = checked.starts_on, checked.ends_on
        s.add(row)
        detail = f"enabled={checked.enabled} from={checked.starts_on or '-'} until={checked.ends_on or '-'}"
        audit.record(s, actor, "mailbox.out_of_office", mailbox.address, mailbox.domain.name, detail)
        return checked


def _notice(s: Session, mailbox: Mailbox) -> Notice:
    return Notice.of(s.get(OutOfOffice, mailbox.id))
