"""Sending the pending webhook deliveries: at least once, retried with backoff for 24 hours.

The smtp service's worker calls `deliver_due` each round. Deliveries are claimed with
`SELECT … FOR UPDATE SKIP LOCKED` and a lease (SQLite serialises writers instead), so replicas
share the work and a crashed worker's claim expires. An endpoint that answers 2xx has its
delivery deleted; any other answer, or none, is retried on Standard Webhooks' schedule; a
delivery still failing 24 hours after its event disables the endpoint and drops what it had
pending, so the API and the portal show it disabled.

Each try resolves the URL again, refuses non-public addresses (shared.mail.webhooks) and
connects to the address it checked, never to a second lookup's answer. Redirects are not
followed: a redirect could point anywhere.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import delete, or_, select, update

from shared.config import Settings
from shared.errors import InvalidValue
from shared.mail.webhooks import IpAddress, allowed_addresses, signature
from shared.storage.db import Database
from shared.storage.models import Webhook, WebhookDelivery
from shared.storage.times import as_utc

log = logging.getLogger(__name__)

RETRY_PERIOD = timedelta(hours=24)
# Standard Webhooks' schedule after the first try; the last step repeats until RETRY_PERIOD ends.
SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)
CLAIM_BATCH = 20
TIMEOUT = 10.0
# Longer than a batch sent one after another, each within TIMEOUT.
CLAIM_LEASE = timedelta(minutes=10)
USER_AGENT = "BeaconMail-Webhooks/1"


@dataclass(frozen=True)
class Pending:
    id: int
    webhook_id: int
    message_id: str
    body: str
    url: str
    secret: str


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try (1 = the first)."""
    return SCHEDULE[min(attempts, len(SCHEDULE)) - 1]


def deliver_due(db: Database, *, now: datetime | None = None, limit: int = CLAIM_BATCH) -> int:
    """Send what is due, one after another; returns how many deliveries were tried."""
    moment = now or datetime.now(UTC)
    claimed = claim(db, limit=limit, now=moment)
    for pending in claimed:
        settle(db, pending, post(db.settings, pending, moment), moment)
    return len(claimed)


def claim(db: Database, *, limit: int, now: datetime) -> list[Pending]:
    unclaimed = or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now)
    with db.session.begin() as s:
        due = (
            select(WebhookDelivery.id)
            .where(WebhookDelivery.next_attempt_at <= now, unclaimed)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(s.scalars(due))
        if not ids:
            return []
        s.execute(
            update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(claimed_until=now + CLAIM_LEASE)
        )
        rows = s.execute(
            select(WebhookDelivery, Webhook)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.id.in_(ids))
            .order_by(WebhookDelivery.id)
        ).all()
        return [Pending(d.id, w.id, d.message_id, d.body, w.url, w.secret) for d, w in rows]


def post(settings: Settings, pending: Pending, now: datetime) -> str | None:
    """One try: None when the endpoint took it (2xx), else what went wrong."""
    try:
        addresses = allowed_addresses(settings, pending.url)
    except InvalidValue as error:
        return str(error)
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": pending.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(pending.secret, pending.message_id, timestamp, pending.body),
    }
    failure = "no address answered"
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:
        for address in addresses:
            try:
                response = _post_to(client, pending, address, headers)
            except httpx.TransportError as error:
                failure = f"{address}: {error.__class__.__name__}: {error}"
                continue
            return None if response.is_success else f"HTTP {response.status_code}"
    return failure


def _post_to(client: httpx.Client, pending: Pending, address: IpAddress, headers: dict[str, str]) -> httpx.Response:
    """POST to `address` itself, with the URL's host in Host and in TLS's SNI and certificate check."""
    parts = urlsplit(pending.url)
    host = f"[{address}]" if address.version == 6 else str(address)
    pinned = urlunsplit(parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host))
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return client.post(
        pinned, content=pending.body.encode(), headers=headers | {"host": parts.netloc}, extensions=extensions
    )


def settle(db: Database, pending: Pending, error: str | None, now: datetime) -> None:
    with db.session.begin() as s:
        row = s.get(WebhookDelivery, pending.id)
        if row is None:
            return
        if error is None:
            s.delete(row)
            return
        hook = s.get(Webhook, pending.webhook_id)
        assert hook is not None  # the delivery row would be gone with it (ON DELETE CASCADE)
        hook.last_error = f"{now.isoformat(timespec='seconds')} {error}"[:1000]
        if now - as_utc(row.created_at) < RETRY_PERIOD:
            row.attempts += 1
            row.next_attempt_at = now + retry_delay(row.attempts)
            row.claimed_until = None
            return
        log.warning("webhook %s disabled: deliveries failed for %s (%s)", hook.id, RETRY_PERIOD, error)
        hook.disabled_at = now
        s.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
