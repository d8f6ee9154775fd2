"""Suppression list entries for the admin, CLI, e2e and adversarial tests, written by the rule
the outbound settle and bounce correlation use (shared.mail.suppressions.suppress)."""
from __future__ import annotations

from datetime import datetime, timezone

from shared.mail import suppressions
from shared.storage.db import Database

HARD_BOUNCE = "550 5.1.1 <{address}>: no such user"


def suppress(db: Database, sender: str, address: str, *, days: int = 30, at: datetime | None = None) -> None:
    """`address` suppressed for the domain of `sender` (a hosted sender), as after a hard bounce."""
    with db.session.begin() as s:
        suppressions.suppress(s, sender=sender, address=address, reason=HARD_BOUNCE.format(address=address),
                              days=days, now=at or datetime.now(timezone.utc))
