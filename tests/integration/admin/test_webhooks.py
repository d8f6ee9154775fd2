"""Webhooks: managed through /api/v1/webhooks, fed by the send API, delivered by the smtp
worker to a real HTTP receiver on loopback that checks the Standard Webhooks signatures."""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.admin import create_app
from services.smtp.worker import OutboundWorker
from shared.accounts import tokens, webhooks
from shared.accounts.views import CONSOLE
from shared.mail import webhook_delivery
from shared.storage.db import Database
from tests.e2e.smarthost import Smarthost
from tests.webhook_receiver import Receiver, webhook_receiver

from .support import World, bearer

HOOKS = "/api/v1/webhooks"


@pytest.fixture
def open_db(db: Database) -> Iterator[Database]:
    """The test database with BEACONMAIL_WEBHOOK_ALLOW_PRIVATE=1: the receiver is on loopback."""
    allowing = Database(dataclasses.replace(db.settings, webhook_allow_private=True))
    yield allowing
    allowing.dispose()


@pytest.fixture
def open_api(open_db: Database, world: World) -> FlaskClient:
    return create_app(open_db.settings, database=open_db).test_client()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


def add_hook(api: FlaskClient, db: Database, who: str, receiver: Receiver, **body: Any) -> dict[str, Any]:
    request = {"domain": "alpha.example", "url": receiver.url, "events": ["message.received", "message.delivered"]}
    answer = api.post(HOOKS, json=request | body, headers=bearer(db, who, read_only=False))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    created: dict[str, Any] = answer.get_json()
    receiver.secret = created["secret"]
    return created


def send(api: FlaskClient, db: Database, world: World, to: str = World.manager) -> dict[str, Any]:
    issued = tokens.create_token(db, world.staff, name="app", sends_mail=True, actor=CONSOLE)
    answer = api.post(
        "/api/v1/messages",
        json={"from": world.staff, "to": [to], "subject": "hi", "text": "hello", "tags": ["t1"]},
        headers={"Authorization": f"Bearer {issued.secret}"},
    )
    assert answer.status_code == 202
    sent: dict[str, Any] = answer.get_json()
    return sent


def test_a_webhook_is_created_with_its_secret_shown_once(open_api: FlaskClient, open_db: Database, world: World, receiver: Receiver) -> None:
    created = add_hook(open_api, open_db, world.manager, receiver)
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["url"] == receiver.url and created["enabled"] is True and created["domain"] == "alpha.example"
    listed = open_api.get(HOOKS, headers=bearer(open_db, world.manager)).get_json()["items"]
    assert [hook["id"] for hook in listed] == [created["id"]] and "secret" not in listed[0]


def test_managers_keep_only_their_domains_webhooks(open_api: FlaskClient, open_db: Database, world: World, receiver: Receiver) -> None:
    created = add_hook(open_api, open_db, world.admin, receiver, domain="beta.example")
    manager = bearer(open_db, world.manager, read_only=False)
    refused = open_api.post(HOOKS, json={"domain": "beta.example", "url": receiver.url, "events": ["message.bounced"]}, headers=manager)
    assert refused.status_code == 404
    assert open_api.get(HOOKS, headers=manager).get_json()["items"] == []
    assert open_api.delete(f"{HOOKS}/{created['id']}", headers=manager).status_code == 404
    assert open_api.delete(f"{HOOKS}/{created['id']}", headers=bearer(open_db, world.admin, read_only=False)).status_code == 204
    assert webhooks.list_webhooks(open_db, actor=CONSOLE) == []


def test_read_only_tokens_and_staff_cannot_add_webhooks(open_api: FlaskClient, open_db: Database, world: World, receiver: Receiver) -> None:
    request = {"domain": "alpha.example", "url": receiver.url, "events": ["message.bounced"]}
    assert open_api.post(HOOKS, json=request, headers=bearer(open_db, world.manager)).status_code == 403
    assert open_api.post(HOOKS, json=request | {"events": ["message.opened"]},
                         headers=bearer(open_db, world.manager, read_only=False)).status_code == 422


def test_sent_mail_is_reported_signed(open_api: FlaskClient, open_db: Database, world: World, receiver: Receiver) -> None:
    add_hook(open_api, open_db, world.manager, receiver)
    sent = send(open_api, open_db, world)
    assert webhook_delivery.deliver_due(open_db) == 2
    assert all(request.verified for request in receiver.received)
    events = {request.event["type"]: request.event for request in receiver.received}
    assert set(events) == {"message.received", "message.delivered"}
    delivered = events["message.delivered"]["data"]
    assert delivered["id"] == sent["id"] and delivered["message_id"] == sent["message_id"]
    assert delivered["recipient"] == world.manager and delivered["from"] == world.staff and delivered["tags"] == ["t1"]
    assert events["message.received"]["data"]["recipients"] == [world.manager]
    first = receiver.received[0].headers
    assert first["webhook-id"].startswith("msg_") and first["webhook-signature"].startswith("v1,")
    assert webhook_delivery.deliver_due(open_db) == 0  # delivered ones are gone


def test_the_smtp_worker_sends_webhooks(open_api: FlaskClient, open_db: Database, world: World, receiver: Receiver) -> None:
    add_hook(open_api, open_db, world.manager, receiver, events=["message.delivered"])
    send(open_api, open_db, world)
    assert asyncio.run(OutboundWorker(open_db).run_once()) == 1
    assert [request.event["type"] for request in receiver.received] == ["message.delivered"]


def test_failures_are_retried_for_a_day_then_the_endpoint_is_disabled(
    open_api: FlaskClient, open_db: Database, world: World, receiver: Receiver
) -> None:
    created = add_hook(open_api, open_db, world.manager, receiver, events=["message.delivered"])
    receiver.status = 500
    send(open_api, open_db, world)
    start = datetime.now(UTC)
    assert webhook_delivery.deliver_due(open_db, now=start) == 1
    assert webhook_delivery.deliver_due(open_db, now=start + timedelta(seconds=1)) == 0  # backing off
    assert webhook_delivery.deliver_due(open_db, now=start + timedelta(seconds=6)) == 1
    (hook,) = webhooks.list_webhooks(open_db, actor=CONSOLE)
    assert hook.disabled_at is None and "HTTP 500" in hook.last_error
    assert webhook_delivery.deliver_due(open_db, now=start + timedelta(hours=25)) == 1
    assert len(receiver.received) == 3
    listed = open_api.get(HOOKS, headers=bearer(open_db, world.manager)).get_json()["items"]
    assert listed[0]["id"] == created["id"] and listed[0]["enabled"] is False and listed[0]["disabled_at"]
    receiver.status = 204
    send(open_api, open_db, world)
    assert webhook_delivery.deliver_due(open_db, now=start + timedelta(hours=26)) == 0  # a disabled endpoint gets nothing


def test_a_claimed_delivery_is_not_claimed_twice(open_api: FlaskClient, open_db: Database, world: World, receiver: Receiver) -> None:
    add_hook(open_api, open_db, world.manager, receiver)
    send(open_api, open_db, world)
    now = datetime.now(UTC)
    first = webhook_delivery.claim(open_db, limit=1, now=now)
    second = webhook_delivery.claim(open_db, limit=5, now=now)
    assert len(first) == len(second) == 1 and first[0].id != second[0].id
    assert webhook_delivery.claim(open_db, limit=5, now=now) == []
    assert len(webhook_delivery.claim(open_db, limit=5, now=now + webhook_delivery.CLAIM_LEASE * 2)) == 2


def test_private_addresses_are_refused_without_the_setting(app: Flask, db: Database, world: World, receiver: Receiver) -> None:
    answer = app.test_client().post(
        HOOKS,
        json={"domain": "alpha.example", "url": receiver.url, "events": ["message.delivered"]},
        headers=bearer(db, world.manager, read_only=False),
    )
    assert answer.status_code == 422 and "non-public" in answer.get_json()["error"]["message"]


def test_outcomes_after_acceptance_are_reported(open_db: Database, world: World, receiver: Receiver) -> None:
    """The message log's record_outcome queues them: here a copy the smarthost took (message.relayed)."""
    smarthost = Smarthost()
    relaying = Database(dataclasses.replace(open_db.settings, relay_host=f"127.0.0.1:{smarthost.start()}"))
    try:
        api = create_app(relaying.settings, database=relaying).test_client()
        add_hook(api, relaying, world.manager, receiver, events=["message.relayed"])
        sent = send(api, relaying, world, to="friend@remote.example")
        assert asyncio.run(OutboundWorker(relaying).run_once()) == 2  # the copy, then its webhook
    finally:
        relaying.dispose()
        smarthost.stop()
    (request,) = receiver.received
    assert request.verified and request.event["type"] == "message.relayed"
    data = request.event["data"]
    assert (data["id"], data["recipient"], data["status"]) == (sent["id"], "friend@remote.example", "relayed")
