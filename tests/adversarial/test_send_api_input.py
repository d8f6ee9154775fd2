"""Hostile use of the send API and of webhooks: sending as someone else, header injection
through every text field, another token's Idempotency-Key, webhook URLs into our own network
(at creation and, after a DNS change, at delivery), redirects, and forged signatures."""
from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from integration.admin.support import World, bearer
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.admin import create_app
from shared import accounts
from shared.accounts import tokens, webhooks
from shared.accounts.views import CONSOLE
from shared.mail import webhook_delivery
from shared.mail.webhooks import new_secret, signature
from shared.storage.db import Database
from shared.storage.maildirs import list_messages
from tests.junkmail import maildir_of
from tests.webhook_receiver import webhook_receiver

SEND = "/api/v1/messages"
HOOKS = "/api/v1/webhooks"
VICTIM = "victim@beta.example"


@pytest.fixture
def app(db: Database) -> Iterator[Flask]:
    for domain in (World.alpha, World.beta):
        accounts.create_domain(db, domain, actor=CONSOLE)
    for address in (World.manager, World.staff, VICTIM):
        accounts.create_mailbox(db, address, "a-password-1", actor=CONSOLE)
    accounts.grant_role(db, World.manager, domain=World.alpha, actor=CONSOLE)
    yield create_app(db.settings, database=db)


def sender_headers(db: Database, owner: str = World.staff, name: str = "app") -> dict[str, str]:
    issued = tokens.create_token(db, owner, name=name, sends_mail=True, actor=CONSOLE)
    return {"Authorization": f"Bearer {issued.secret}"}


def stored(db: Database, address: str) -> list[bytes]:
    return [message.path.read_bytes() for message in list_messages(maildir_of(db, address))]


def message(**change: Any) -> dict[str, Any]:
    return {"from": World.staff, "to": [World.manager], "subject": "s", "text": "t"} | change


def test_sending_as_another_user_is_forbidden(app: Flask, db: Database) -> None:
    api = app.test_client()
    answer = api.post(SEND, json=message(**{"from": World.manager}), headers=sender_headers(db))
    assert answer.status_code == 403 and answer.get_json()["field"] == "from"
    raw = f"From: {World.manager}\r\nTo: {World.manager}\r\nSubject: x\r\n\r\nx\r\n".encode()
    spoofed = api.post(SEND, json={"from": World.staff, "to": [World.manager], "raw_base64": base64.b64encode(raw).decode()},
                       headers=sender_headers(db))
    assert spoofed.status_code == 403 and spoofed.get_json()["field"] == "raw_base64"
    assert stored(db, World.manager) == []


@pytest.mark.parametrize(
    "change",
    [
        {"subject": f"Hi\r\nBcc: {VICTIM}"},
        {"subject": f"Hi\nBcc: {VICTIM}"},
        {"from": f"{World.staff}\r\nBcc: {VICTIM}"},
        {"to": [f"{World.manager}\r\nBcc: {VICTIM}"]},
        # The standard library folds this group name into a line of its own, which readers
        # take for the next field or the end of the header section.
        {"to": [f"é:é:𐀀 <{World.manager}>"]},
        {"cc": [f"é:中:𐀀 <{VICTIM}>", World.manager]},
        {"headers": {"X-Note": f"x\r\nBcc: {VICTIM}"}},
        {"headers": {f"Bcc: {VICTIM}\r\nX-A": "x"}},
        {"headers": {"Bcc": VICTIM}},
        {"headers": {"bCC": VICTIM}},
        {"headers": {"Resent-Bcc": VICTIM}},
        {"headers": {"Resent-From": VICTIM}},
        {"headers": {"RESENT-SENDER": VICTIM}},
        {"headers": {"Sender": VICTIM}},
        {"headers": {"FROM": VICTIM}},
        {"attachments": [{"filename": f"a.txt\r\nBcc: {VICTIM}", "content_type": "text/plain", "content_base64": ""}]},
        {"attachments": [{"filename": "a.txt", "content_type": f"text/plain\r\nBcc: {VICTIM}", "content_base64": ""}]},
    ],
)
def test_header_injection_is_refused_and_nothing_is_sent(app: Flask, db: Database, change: dict[str, Any]) -> None:
    answer = app.test_client().post(SEND, json=message(**change), headers=sender_headers(db))
    assert answer.status_code in (403, 422) and answer.mimetype == "application/problem+json"
    assert answer.get_json()["field"].split(".")[0].split("[")[0] == next(iter(change))
    assert stored(db, World.manager) == [] and stored(db, VICTIM) == []


def test_an_address_field_the_standard_library_cannot_parse_is_refused(app: Flask, db: Database) -> None:
    """".:a@b" passes as an address but makes Python 3.11's header parser raise AttributeError."""
    answer = app.test_client().post(SEND, json=message(to=[f".:{World.manager}"]), headers=sender_headers(db))
    assert answer.status_code == 422 and answer.get_json()["field"] == "to"
    assert stored(db, World.manager) == []


def test_a_whole_messages_bcc_field_reaches_no_recipient(app: Flask, db: Database) -> None:
    """The blind copy goes to `bcc[]`; a Bcc field the client left in its message, folded or
    spelt oddly, would tell every recipient who else got one."""
    raw = (
        f"From: {World.staff}\r\nBcc: {VICTIM},\r\n\tsecret-one@beta.example\r\nTo: {World.manager}\r\n"
        f"bcc : secret-two@beta.example\r\nSubject: x\r\nX-Bcc-Note: kept\r\n\r\nBcc: a body line stays\r\n"
    ).encode()
    body = {"from": World.staff, "to": [World.manager], "bcc": [VICTIM], "raw_base64": base64.b64encode(raw).decode()}
    answer = app.test_client().post(SEND, json=body, headers=sender_headers(db))
    assert answer.status_code == 202, answer.get_data(as_text=True)
    for address in (World.manager, VICTIM):
        [copy] = stored(db, address)
        head, _blank, text = copy.partition(b"\r\n\r\n")
        assert b"secret" not in head and VICTIM.encode() not in head and b"\nbcc" not in head.lower(), address
        assert b"X-Bcc-Note: kept" in head and text == b"Bcc: a body line stays\r\n"


def test_another_tokens_idempotency_key_is_its_own(app: Flask, db: Database) -> None:
    api = app.test_client()
    first = api.post(SEND, json=message(subject="secret plans"), headers=sender_headers(db) | {"Idempotency-Key": "k1"})
    other = sender_headers(db, VICTIM, name="attacker") | {"Idempotency-Key": "k1"}
    second = api.post(SEND, json=message(**{"from": VICTIM}), headers=other)
    assert first.status_code == second.status_code == 202
    assert second.get_json()["id"] != first.get_json()["id"] and "Idempotent-Replayed" not in second.headers
    assert len(stored(db, World.manager)) == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one number
        "http://10.0.0.1/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://user:pass@example.com/hook",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://exa mple.com/",
    ],
)
def test_webhook_urls_into_our_network_are_refused(app: Flask, db: Database, url: str) -> None:
    answer = app.test_client().post(
        HOOKS,
        json={"domain": World.alpha, "url": url, "events": ["message.delivered"]},
        headers=bearer(db, World.manager, read_only=False),
    )
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert webhooks.list_webhooks(db, actor=CONSOLE) == []


def deliver_with(db: Database, *, allow_private: bool) -> int:
    other = Database(dataclasses.replace(db.settings, webhook_allow_private=allow_private))
    try:
        return webhook_delivery.deliver_due(other)
    finally:
        other.dispose()


def hook_and_send(app: Flask, db: Database, url: str) -> None:
    allowing = Database(dataclasses.replace(db.settings, webhook_allow_private=True))
    try:
        webhooks.create_webhook(allowing, World.alpha, url, ["message.delivered"], actor=CONSOLE)
    finally:
        allowing.dispose()
    assert app.test_client().post(SEND, json=message(), headers=sender_headers(db)).status_code == 202


def test_an_address_that_turned_private_is_refused_at_delivery(app: Flask, db: Database) -> None:
    """Created while its name resolved to a public address (here: while private ones were
    allowed), a webhook whose name now resolves into our network gets nothing."""
    with webhook_receiver() as receiver:
        hook_and_send(app, db, receiver.url)
        assert deliver_with(db, allow_private=False) == 1
        assert receiver.received == []
    (hook,) = webhooks.list_webhooks(db, actor=CONSOLE)
    assert "non-public" in hook.last_error


def test_redirects_are_not_followed(app: Flask, db: Database) -> None:
    with webhook_receiver() as inner, webhook_receiver() as outer:
        outer.status, outer.location = 307, inner.url
        hook_and_send(app, db, outer.url)
        assert deliver_with(db, allow_private=True) == 1
        assert len(outer.received) == 1 and inner.received == []
    (hook,) = webhooks.list_webhooks(db, actor=CONSOLE)
    assert "HTTP 307" in hook.last_error


def test_a_tampered_delivery_fails_verification() -> None:
    secret, body, timestamp = new_secret(), '{"type":"message.delivered"}', int(time.time())
    signed = {"webhook-id": "msg_1", "webhook-timestamp": str(timestamp),
              "webhook-signature": signature(secret, "msg_1", timestamp, body)}
    verifier = Webhook(secret)
    assert verifier.verify(body, signed) == {"type": "message.delivered"}
    forgeries = [
        (body.replace("delivered", "bounced"), signed),
        (body, signed | {"webhook-timestamp": str(timestamp + 1)}),
        (body, signed | {"webhook-id": "msg_2"}),
        (body, signed | {"webhook-signature": signature(new_secret(), "msg_1", timestamp, body)}),
    ]
    for forged_body, headers in forgeries:
        with pytest.raises(WebhookVerificationError):
            verifier.verify(forged_body, headers)
