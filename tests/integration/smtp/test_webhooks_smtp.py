"""Webhooks for mail accepted over SMTP: a message kept on the MX or by submission queues one
signed `message.received` and a `message.delivered` per local mailbox for the webhooks of the
domains concerned, in the transaction behind the 250; a domain without a webhook hears
nothing, and neither does anyone of a refused message. A real HTTP receiver on loopback checks
the Standard Webhooks signatures. Both databases."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from shared.accounts import webhooks
from shared.accounts.mailboxes import create_mailbox
from shared.accounts.message_tracking import LogFilters, search_messages
from shared.accounts.views import CONSOLE
from shared.mail import webhook_delivery
from tests.webhook_receiver import Receiver, webhook_receiver

from .support import ALICE, BOB, DOMAIN, SECOND, RunningSmtp, mx_client, submit
from .test_message_log import INBOUND, MESSAGE, send

pytestmark = pytest.mark.integration
EVENTS = ["message.received", "message.delivered"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


@pytest.fixture
def hooked(start_smtp, receiver: Receiver) -> RunningSmtp:  # type: ignore[no-untyped-def]
    """The smtp service with a webhook of hosted.example (only) calling the receiver."""
    server: RunningSmtp = start_smtp(webhook_allow_private=True)
    receiver.secret = webhooks.create_webhook(server.db, DOMAIN, receiver.url, EVENTS, actor=CONSOLE).secret
    return server


def events_of(server: RunningSmtp, receiver: Receiver) -> dict[str, list[dict[str, object]]]:
    """What the worker's webhook turn sends, by type; every request's signature verified."""
    webhook_delivery.deliver_due(server.db)
    assert all(request.verified for request in receiver.received)
    found: dict[str, list[dict[str, object]]] = {}
    for request in receiver.received:
        found.setdefault(request.event["type"], []).append(request.event["data"])
    return found


def test_mail_accepted_on_the_mx_is_told_to_the_domains_webhooks(hooked: RunningSmtp, receiver: Receiver) -> None:
    with mx_client(hooked) as client:
        log_id = send(client, "someone@remote.example", [ALICE, BOB], INBOUND)
    events = events_of(hooked, receiver)
    assert set(events) == {"message.received", "message.delivered"}
    (received,) = events["message.received"]
    assert received["id"] == log_id and received["message_id"] == "tracked-1@hosted.example"
    assert received["from"] == "someone@remote.example" and sorted(received["recipients"]) == [ALICE, BOB]  # type: ignore[type-var]
    delivered = sorted((data["recipient"], data["id"], data["status"]) for data in events["message.delivered"])  # type: ignore[type-var]
    assert delivered == [(ALICE, log_id, "delivered"), (BOB, log_id, "delivered")]


def test_submitted_mail_is_told_once_per_message_and_per_local_mailbox(hooked: RunningSmtp, receiver: Receiver) -> None:
    with submit(hooked) as client:
        log_id = send(client, ALICE, [BOB, "friend@remote.example"], MESSAGE)
    events = events_of(hooked, receiver)
    (received,) = events["message.received"]
    assert received["id"] == log_id and sorted(received["recipients"]) == [BOB, "friend@remote.example"]  # type: ignore[type-var]
    assert [(data["recipient"], data["id"]) for data in events["message.delivered"]] == [(BOB, log_id)]


def test_a_domain_without_a_webhook_hears_nothing(hooked: RunningSmtp, receiver: Receiver) -> None:
    carla = f"carla@{SECOND}"
    create_mailbox(hooked.db, carla, "carla-password-1", actor=CONSOLE)
    with mx_client(hooked) as client:
        send(client, "someone@remote.example", [carla], INBOUND)
        refused = client.sendmail("someone@remote.example", [f"nobody@{DOMAIN}", carla], INBOUND)
    assert list(refused) == [f"nobody@{DOMAIN}"]
    assert webhook_delivery.deliver_due(hooked.db) == 0 and receiver.received == []


def test_a_message_refused_at_data_is_told_to_no_one(start_smtp, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = start_smtp(webhook_allow_private=True, max_message_size=1000)
    receiver.secret = webhooks.create_webhook(server.db, DOMAIN, receiver.url, EVENTS, actor=CONSOLE).secret
    with mx_client(server) as client:
        client.ehlo()
        client.mail("big@remote.example")
        client.rcpt(BOB)
        code, _reply = client.data(INBOUND + b"x" * 2000 + b"\r\n")
    assert code == 552
    deadline = time.monotonic() + 5  # the refusal is logged as the session goes on
    while not (found := search_messages(server.db, actor=CONSOLE, filters=LogFilters(sender="big@remote.example")).items):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (entry,) = found
    assert [r.status for r in entry.recipients] == ["refused"]  # logged, and still no event
    assert webhook_delivery.deliver_due(server.db) == 0 and receiver.received == []
