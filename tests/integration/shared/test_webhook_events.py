"""`webhooks.queue_events`, the one way a message's events reach webhooks, on a raw cursor:
per active webhook of a concerned domain, the events it listens to, under ids a message's
`forget` finds. Both databases."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from shared.accounts import create_domain
from shared.accounts import webhooks as webhook_accounts
from shared.accounts.views import CONSOLE
from shared.mail import webhooks
from shared.storage import rawsql
from shared.storage.db import Database
from shared.storage.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.integration
URL = "https://93.184.215.14/hook"  # a public address: no lookup, nothing is sent
SOURCE = "0190a1b2c3d4e5f6"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
RECEIVED = {"id": SOURCE, "from": "someone@remote.example", "recipients": ["a@alpha.example"]}
DELIVERED = {"id": SOURCE, "from": "someone@remote.example", "recipient": "a@alpha.example"}


def add_webhook(db: Database, domain: str, events: list[str]) -> int:
    return webhook_accounts.create_webhook(db, domain, URL, events, actor=CONSOLE).webhook.id


def queued(db: Database) -> list[tuple[int, str, str]]:
    """(webhook, message id, event type) of every pending delivery."""
    with db.session.begin() as s:
        rows = s.execute(select(WebhookDelivery.webhook_id, WebhookDelivery.message_id, WebhookDelivery.body))
        return sorted((hook, message_id, json.loads(body)["type"]) for hook, message_id, body in rows)


def test_each_active_webhook_of_a_concerned_domain_gets_the_events_it_listens_to(db: Database) -> None:
    for domain in ("alpha.example", "beta.example"):
        create_domain(db, domain, actor=CONSOLE)
    hearing = add_webhook(db, "alpha.example", ["message.received"])
    both = add_webhook(db, "alpha.example", ["message.delivered", "message.received"])
    disabled = add_webhook(db, "alpha.example", ["message.received"])
    add_webhook(db, "beta.example", ["message.received", "message.delivered"])  # concerned by neither
    with db.session.begin() as s:
        hook = s.get(Webhook, disabled)
        assert hook is not None
        hook.disabled_at = NOW
    with rawsql.cursor(db, transaction=True) as cursor:
        webhooks.queue_events(cursor, [("message.received", RECEIVED), ("message.delivered", DELIVERED)], NOW, SOURCE)
    found = queued(db)
    assert sorted((hook, event) for hook, _id, event in found) == [
        (hearing, "message.received"), (both, "message.delivered"), (both, "message.received"),
    ]  # fmt: skip
    ids = [message_id for _hook, message_id, _event in found]
    assert len(set(ids)) == 3
    assert all(message_id.startswith(f"msg_{SOURCE}_") and len(message_id) == len(f"msg_{SOURCE}_") + 12 for message_id in ids)
    with db.session.begin() as s:
        body = json.loads(s.scalars(select(WebhookDelivery.body).where(WebhookDelivery.webhook_id == hearing)).one())
        webhooks.forget_events(s, SOURCE)
    assert body == {"type": "message.received", "timestamp": "2026-12-06T12:00:00+00:00", "data": RECEIVED}
    assert queued(db) == []


def test_events_without_a_source_get_ids_of_their_own(db: Database) -> None:
    create_domain(db, "alpha.example", actor=CONSOLE)
    add_webhook(db, "alpha.example", ["message.delivered"])
    with db.session.begin() as s:
        webhooks.queue_event(s, "message.delivered", DELIVERED, now=NOW)
        webhooks.queue_event(s, "message.delivered", DELIVERED, now=NOW)
    ids = [message_id for _hook, message_id, _event in queued(db)]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert all(message_id.startswith("msg_") and len(message_id) == len("msg_") + 24 for message_id in ids)
