"""Setting up an empty installation: the first global admin (used by `beaconmail up`)."""
from __future__ import annotations

from sqlalchemy import select

from shared import accounts
from shared.accounts.views import Actor, MailboxView
from shared.mail.addresses import parse_address
from shared.mail.routing import is_hosted_domain
from shared.storage.db import Database
from shared.storage.models import Mailbox


def global_admins(db: Database) -> list[str]:
    """The addresses of every global admin, sorted."""
    with db.session.begin() as s:
        return list(s.scalars(select(Mailbox.address).where(Mailbox.is_global_admin).order_by(Mailbox.address)))


def create_first_admin(db: Database, address: str, password: str, *, actor: Actor) -> MailboxView:
    """Create `address` as a global admin, hosting its domain first when it is not hosted yet."""
    parsed = parse_address(address)
    if not is_hosted_domain(db, parsed.domain):
        accounts.create_domain(db, parsed.domain, actor=actor)
    accounts.create_mailbox(db, str(parsed), password, actor=actor)
    return accounts.grant_role(db, str(parsed), global_admin=True, actor=actor)
