"""Webhooks, signed the Standard Webhooks way (https://www.standardwebhooks.com): what an
endpoint may be, how a payload is signed, and `queue_event`, the one way an event reaches the
endpoints that asked for it.

An event concerns the hosted domains of its sender and recipients; each active webhook of
those domains that listens to it gets one pending delivery (shared.mail.webhook_delivery
sends them). A webhook's URL must resolve to public addresses only, when it is added and
again at each delivery (a name may resolve elsewhere later: DNS rebinding), unless
BEACONMAIL_WEBHOOK_ALLOW_PRIVATE is set: otherwise whoever may add a webhook could make the
server call into its own network.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.errors import N_, InvalidValue
from shared.storage import rawsql
from shared.storage.models import Domain, Webhook, WebhookDelivery

EVENTS = (
    "message.delivered",
    "message.relayed",
    "message.deferred",
    "message.bounced",
    "message.failed",
    "message.received",
)
SECRET_START = "whsec_"
SECRET_BYTES = 24
MAX_URL = 2048
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def new_secret() -> str:
    return SECRET_START + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signature(secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` value: HMAC-SHA256 of `id.timestamp.body` with the secret's key."""
    key = base64.b64decode(secret.removeprefix(SECRET_START))
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def parse_url(url: str) -> SplitResult:
    """An http(s) URL with a host and no credentials, else InvalidValue."""
    if len(url) > MAX_URL or not url.isprintable() or any(character.isspace() for character in url):
        raise InvalidValue(N_("url: must be an http or https URL of at most %(limit)d characters"), limit=MAX_URL)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue(N_("url: must be an http or https URL with a host"))
    if parts.username is not None or parts.password is not None:
        raise InvalidValue(N_("url: must not carry a user name or password"))
    try:
        parts.port  # noqa: B018  # raises ValueError for a port out of range
    except ValueError:
        raise InvalidValue(N_("url: the port is not valid")) from None
    return parts


def is_public(address: IpAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, shared, reserved or multicast."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


def allowed_addresses(settings: Settings, url: str) -> list[IpAddress]:
    """The addresses `url`'s host resolves to, all of them allowed, else InvalidValue."""
    parts = parse_url(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise InvalidValue(N_("url: the host %(host)s does not resolve"), host=parts.hostname) from None
    addresses = [ipaddress.ip_address(str(entry[4][0]).partition("%")[0]) for entry in found]
    if not settings.webhook_allow_private:
        refused = sorted({str(address) for address in addresses if not is_public(address)})
        if refused:
            raise InvalidValue(
                N_("url: %(host)s resolves to a non-public address (%(addresses)s)"),
                host=parts.hostname,
                addresses=", ".join(refused),
            )
    return addresses


def check_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [event for event in chosen if event not in EVENTS]
    if not chosen or unknown:
        raise InvalidValue(N_("events: choose from %(events)s"), events=", ".join(EVENTS))
    return chosen


Event = tuple[str, Mapping[str, Any]]  # a type (message.received, ...) and its data

_LISTENING = rawsql.RawStatement(
    select(Webhook.id, Webhook.events, Domain.name)
    .join(Domain, Domain.id == Webhook.domain_id)
    .where(Webhook.disabled_at.is_(None))
)
# A column a statement can return on the way (the message log's), sparing the lookup a round trip.
ANY_ACTIVE = exists(select(Webhook.id).where(Webhook.disabled_at.is_(None))).label("any_webhook")
_DELIVERY_TABLE = WebhookDelivery.metadata.tables[WebhookDelivery.__tablename__]
_INSERT_DELIVERY = rawsql.RawStatement(insert(_DELIVERY_TABLE).values(rawsql.untyped_values(_DELIVERY_TABLE)))


def queue_event(db_session: Session, event: str, payload: Mapping[str, Any], now: datetime | None = None) -> int:
    """Queue `event` for every active webhook of the domains it concerns, in the caller's
    transaction, so the event is sent if and only if what it reports is committed.

    `payload` is the event's `data`; its `from`, `recipient` and `recipients` fields name the
    addresses whose hosted domains' webhooks receive it. Returns how many deliveries were queued."""
    return queue_events(rawsql.of_session(db_session), [(event, payload)], now or datetime.now(UTC))


def queue_events(cursor: rawsql.RawCursor, events: Sequence[Event], now: datetime, source: str = "") -> int:
    """`queue_event` for several events (a message's) on a raw cursor, with one lookup of the
    webhooks: an indexless read of the few active ones, all a message costs when none listens.
    A `source` (a message log id) starts the deliveries' ids, so `forget_events` finds them."""
    hooks = _LISTENING.execute(cursor, {}).fetchall()
    if not hooks:
        return 0
    rows = []
    for event, payload in events:
        concerned = _domains_of(payload)
        listening = [hook_id for hook_id, names, domain in hooks if event in names.split() and domain in concerned]
        body = json.dumps(
            {"type": event, "timestamp": now.isoformat(timespec="seconds"), "data": dict(payload)},
            separators=(",", ":"),
        )
        rows += [_delivery_row(cursor, hook_id, body, now, source) for hook_id in listening]
    if rows:
        _INSERT_DELIVERY.execute_many(cursor, rows)
    return len(rows)


def _delivery_row(cursor: rawsql.RawCursor, hook_id: int, body: str, now: datetime, source: str) -> dict[str, Any]:
    stamp = rawsql.stamp(cursor.dialect, now)
    webhook_id = f"msg_{source}_{secrets.token_hex(6)}" if source else f"msg_{secrets.token_hex(12)}"
    return {"webhook_id": hook_id, "message_id": webhook_id, "body": body, "created_at": stamp,
            "next_attempt_at": stamp, "attempts": 0, "claimed_until": None}


def forget_events(db_session: Session, source: str) -> None:
    """Take back the deliveries queued for `source` (a message that was not kept after all)."""
    db_session.execute(delete(WebhookDelivery).where(WebhookDelivery.message_id.startswith(f"msg_{source}_")))


def _domains_of(payload: Mapping[str, Any]) -> set[str]:
    addresses = [payload.get("from"), payload.get("recipient"), *payload.get("recipients", ())]
    return {address.rpartition("@")[2].lower() for address in addresses if isinstance(address, str) and "@" in address}
