"""Reset links as their owners get them: the portal queues the mail, one round of the real
outbound worker relays it to a loopback smarthost (BEACONMAIL_RELAY_HOST), and the link is read
from the message that arrived there."""
from __future__ import annotations

import asyncio
import dataclasses
import email
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from email import policy

from services.smtp.worker import OutboundWorker
from shared.storage.db import Database
from tests.e2e.smarthost import Collector, Relayed, Smarthost

LINK = re.compile(r"(https?://\S+/password-reset/([A-Za-z0-9_-]+))")


@contextmanager
def relaying(db: Database) -> Iterator[tuple[Collector, Database]]:
    """A smarthost, and a database handle whose settings relay there (for the worker)."""
    host = Smarthost()
    port = host.start()
    relay_db = Database(dataclasses.replace(db.settings, relay_host=f"127.0.0.1:{port}"))
    try:
        yield host.collector, relay_db
    finally:
        relay_db.dispose()
        host.stop()


def relay_queue(relay_db: Database) -> int:
    """One round of the worker, on a thread of its own: Playwright's sync API keeps an event
    loop running in the test's thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, OutboundWorker(relay_db).run_once()).result()


def wait_for_mail(collector: Collector, relay_db: Database, count: int = 1, timeout: float = 20.0) -> list[Relayed]:
    """Work the queue until `count` messages reached the smarthost (the portal queues in a thread)."""
    deadline = time.monotonic() + timeout
    while len(collector.messages()) < count and time.monotonic() < deadline:
        if not relay_queue(relay_db):
            time.sleep(0.1)
    received = collector.messages()
    assert len(received) >= count, f"{len(received)} of {count} messages arrived"
    return received


def link_in(message: Relayed) -> tuple[str, str]:
    """The whole link and its token."""
    parsed = email.message_from_bytes(message.content, policy=policy.default)
    body = parsed.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found, body.get_content()
    return found.group(1), found.group(2)
