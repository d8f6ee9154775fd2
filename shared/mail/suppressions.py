"""The suppression list as mail sees it: which recipients a hosted sending domain stops
sending to, added when a remote server refused one for good and checked before sending.

An entry is added by a 5xx a remote server answered a hosted sender's message (the outbound
settle, shared.mail.outbound) and by a later bounce whose status is 5.x.x (shared.mail.bounces),
and renewed by each new one; it counts for `suppress_days`, then no longer. Forwarded copies
(SRS senders) and messages the system wrote (the null sender) are neither suppressed nor held
back: their sender is not a hosted domain's. Who may list and remove entries is
shared.accounts.suppressions's rule."""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.errors import InvalidAddress
from shared.mail import srs
from shared.mail.addresses import normalise_domain
from shared.storage.db import Database
from shared.storage.lookups import hosted_domain
from shared.storage.models import Domain, Suppression
from shared.storage.times import as_utc
from shared.storage.upserts import insert_for

MAX_REASON = 1000


def sending_domain(s: Session, sender: str) -> Domain | None:
    """The hosted domain whose suppression list applies to mail from `sender`, if any."""
    if not sender or srs.is_srs_address(sender):
        return None
    try:
        return hosted_domain(s, normalise_domain(sender.rpartition("@")[2]))
    except InvalidAddress:
        return None


def suppress(s: Session, *, sender: str, address: str, reason: str, days: int, now: datetime) -> None:
    """Suppress `address` for the domain of `sender` (a hard bounce), in the caller's transaction;
    an entry already there starts again with this reason."""
    domain = sending_domain(s, sender)
    if domain is None:
        return
    values = {"reason": reason[:MAX_REASON], "created_at": now, "expires_at": now + timedelta(days=days)}
    s.execute(
        insert_for(s, Suppression)
        .values(domain_id=domain.id, address=address.lower(), **values)
        .on_conflict_do_update(index_elements=["domain_id", "address"], set_=values)
    )


def suppressed(db: Database, sender: str, addresses: Collection[str], now: datetime | None = None) -> dict[str, datetime]:
    """Of `addresses`, those suppressed for mail from `sender` now, each with the day of its hard bounce."""
    if not addresses:
        return {}
    moment = now or datetime.now(timezone.utc)
    wanted = {address.lower(): address for address in addresses}
    with db.read_session.begin() as s:
        domain = sending_domain(s, sender)
        if domain is None:
            return {}
        rows = s.execute(
            select(Suppression.address, Suppression.created_at).where(
                Suppression.domain_id == domain.id, Suppression.address.in_(wanted), Suppression.expires_at > moment
            )
        ).all()
    return {wanted[address]: as_utc(created) for address, created in rows}


def refusal(address: str, since: datetime) -> str:
    """The reply a suppressed recipient gets instead of a delivery try."""
    return f"550 5.7.1 <{address}>: suppressed after a hard bounce on {since.date().isoformat()}"


def purge_expired(db: Database, now: datetime | None = None) -> int:
    """Delete entries that no longer count; how many."""
    with db.session.begin() as s:
        result = s.execute(delete(Suppression).where(Suppression.expires_at <= (now or datetime.now(timezone.utc))))
        return int(result.rowcount)  # type: ignore[attr-defined]
