"""What a process has looked up in the PostgreSQL directory, forgotten as soon as it changes.

On PostgreSQL every RCPT cost a thread hop and a round trip to the server, about a quarter of
the CPU of receiving a message (bench/RESULTS.md). The smtp service keeps the answers here;
shared.mail.routing decides which answers may be kept (hits on a plain mailbox, never a miss, so
an address created a moment ago receives at once).

Coherence: triggers (migration 0006) send a NOTIFY on CHANNEL when a change to what such an
answer depends on commits. Each process LISTENs on a connection of its own and forgets
everything at each notification; while that connection is down it keeps nothing. An entry
also expires after ENTRY_SECONDS: it may hold figures that change without a notification
(a mailbox's used bytes change with every delivery), and that bounds how old they can be.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Generic, TypeVar

from shared.storage.db import Database, libpq_conninfo

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "beacon_directory"
ENTRY_SECONDS = 5.0
MAX_ENTRIES = 10_000
RECONNECT_SECONDS = (1.0, 30.0)
# A dead LISTEN connection is noticed within about a minute (libpq's parameters).
KEEPALIVES: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


def listen_conninfo(db: Database) -> str:
    """The database's URL for libpq: a connection of its own, outside SQLAlchemy's pool."""
    return libpq_conninfo(db.engine.url.render_as_string(hide_password=False))


class DirectoryCache(Generic[T]):
    """Answers by key. Lookups run in the event loop, stores in the threads that asked the
    database; a store carries the generation read before its query, so an answer read
    before a change that was notified meanwhile is not kept."""

    def __init__(self, db: Database) -> None:
        self._conninfo = listen_conninfo(db)
        self._entries: dict[str, tuple[float, T]] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._following = False

    @property
    def generation(self) -> int:
        return self._generation

    def lookup(self, key: str) -> T | None:
        """Without the lock: an expired entry stays until a store replaces or evicts it."""
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > ENTRY_SECONDS:
            return None
        return entry[1]

    def store(self, key: str, value: T, generation: int) -> None:
        with self._lock:
            if not self._following or generation != self._generation:
                return
            self._entries.pop(key, None)
            if len(self._entries) >= MAX_ENTRIES:
                del self._entries[next(iter(self._entries))]  # the longest kept
            self._entries[key] = (time.monotonic(), value)

    def forget_all(self, *, following: bool) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._following = following

    async def follow_changes(self) -> None:
        """LISTEN for changes until cancelled, reconnecting after a failure. TCP keepalives end
        a connection whose server vanished without closing it (a crash, a failover): waiting
        for notifications, it sends nothing that could fail otherwise."""
        # Imported here, where only the smtp service on PostgreSQL comes: routing imports this
        # module, and every CLI command on SQLite would load psycopg for nothing.
        import psycopg

        delay = RECONNECT_SECONDS[0]
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, **KEEPALIVES
                ) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self.forget_all(following=True)
                    delay = RECONNECT_SECONDS[0]
                    async for _ in connection.notifies():
                        self.forget_all(following=True)
            except psycopg.Error as error:
                log.warning("directory cache off: listening for changes failed (%s); retrying in %.0f s", error, delay)
            except Exception:  # noqa: BLE001 - a cache that stopped listening must not stop the service
                log.exception("directory cache off: listening for changes failed; retrying in %.0f s", delay)
            finally:
                self.forget_all(following=False)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_SECONDS[1])
