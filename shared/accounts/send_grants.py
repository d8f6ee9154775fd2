"""The verified send tokens a process remembers for a few seconds: every POST /api/v1/messages
verifies its token, and the sends of one application come in bursts with one token.

Only send tokens are remembered: their rights never depend on roles or domains, only on the
token and its owner existing, being unexpired and active. So a send token revoked, expired,
or whose owner or domain was disabled, keeps working for at most KEPT_FOR in a process that
verified it just before; tokens with other scopes are verified on every call. An entry is
keyed by the token's digest (never the secret) and remembers the token's own expiry.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.accounts.views import TokenRef

KEPT_FOR = timedelta(seconds=5)
MAX_ENTRIES = 1024


@dataclass(frozen=True)
class SendGrant:
    token: TokenRef
    owner: str
    expires_at: datetime | None


class SendGrants:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[datetime, SendGrant]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str, now: datetime) -> SendGrant | None:
        with self._lock:
            found = self._entries.get(digest)
        if found is None:
            return None
        verified_at, grant = found
        if not verified_at <= now < verified_at + KEPT_FOR or (grant.expires_at is not None and grant.expires_at <= now):
            return None
        return grant

    def keep(self, digest: str, grant: SendGrant, now: datetime) -> None:
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()  # rare (a thousand send tokens in five seconds): start again
            self._entries[digest] = (now, grant)


REMEMBERED = SendGrants()
