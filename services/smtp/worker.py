"""The outbound delivery loop that runs inside every smtp process.

Each round claims due recipients from the shared queue (several replicas can run this
loop against one database), sends them in parallel threads, and settles the outcome
(recipients the sender's domain suppressed fail at once, unsent); then it sends the webhook
deliveries that are due (shared.mail.webhook_delivery).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from services.smtp.relay import deliver_remote, for_all
from shared.accounts import idempotency
from shared.mail import mailflow, message_log, outbound, suppressions, webhook_delivery
from shared.storage.db import Database

log = logging.getLogger(__name__)

CLAIM_BATCH = 20
PARALLEL_DELIVERIES = 4
# Longer than the worst case of one delivery: a few hops of 60 s command timeouts.
CLAIM_LEASE = timedelta(minutes=15)
ORPHAN_SWEEP_SECONDS = 600.0


class OutboundWorker:
    def __init__(self, db: Database, *, poll_interval: float = 2.0) -> None:
        self.db = db
        self.poll_interval = poll_interval
        self._slots = asyncio.Semaphore(PARALLEL_DELIVERIES)
        self._next_sweep = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except Exception:
                log.exception("outbound round failed; retrying after the poll interval")
                claimed = 0
            if not claimed:
                try:
                    await asyncio.wait_for(stop.wait(), self.poll_interval)
                except TimeoutError:
                    pass

    async def run_once(self) -> int:
        """One round: sweep orphans, expired message log entries, suppressions and idempotency
        keys when due, claim, deliver, settle, then the webhooks' turn. Returns how many queue
        entries and webhook deliveries were claimed."""
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + ORPHAN_SWEEP_SECONDS
            await asyncio.to_thread(outbound.purge_orphans, self.db)
            days = self.db.settings.log_retention_days
            await asyncio.to_thread(message_log.purge_expired, self.db, days=days)
            await asyncio.to_thread(suppressions.purge_expired, self.db)
            await asyncio.to_thread(idempotency.purge_expired, self.db)
        deliveries = await asyncio.to_thread(outbound.claim, self.db, limit=CLAIM_BATCH, lease=CLAIM_LEASE)
        await asyncio.gather(*(self._deliver(delivery) for delivery in deliveries))
        return len(deliveries) + await asyncio.to_thread(webhook_delivery.deliver_due, self.db)

    async def _deliver(self, delivery: outbound.Delivery) -> None:
        async with self._slots:
            try:
                sending, held = await asyncio.to_thread(mailflow.hold_suppressed, self.db, delivery)
                sent = await asyncio.to_thread(deliver_remote, self.db, sending) if sending.recipients else []
                attempts = held + sent
            except Exception:
                log.exception("delivery of queued message %s crashed", delivery.message_id)
                attempts = for_all(delivery.recipients, "451 4.3.0 local error while sending", permanent=False)
            await asyncio.to_thread(mailflow.settle, self.db, delivery, attempts)
