"""POST /api/v1/messages through the Flask client: send tokens, the answer, local delivery and
the outbound queue, problem documents, Idempotency-Key, the hourly rate."""
from __future__ import annotations

import base64
import dataclasses
import email
import re
import threading
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from services.admin import create_app
from shared.accounts import tokens, update_mailbox
from shared.accounts.message_tracking import LogFilters, get_message, search_messages
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.errors import AuthFailed, InvalidValue
from shared.mail import outbound
from shared.storage.db import Database
from shared.storage.maildirs import list_messages
from shared.storage.models import IdempotentSend
from tests.junkmail import maildir_of

from .support import PortalClient, World, bearer, text_of

SEND_URL = "/api/v1/messages"
PROBLEM = "application/problem+json"


def send_token(db: Database, owner: str, name: str = "app") -> dict[str, str]:
    issued = tokens.create_token(db, owner, name=name, sends_mail=True, actor=CONSOLE)
    return {"Authorization": f"Bearer {issued.secret}"}


def inbox(db: Database, address: str) -> list[EmailMessage]:
    return [
        email.message_from_bytes(m.path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for m in list_messages(maildir_of(db, address))
    ]


def draft(world: World, **extra: Any) -> dict[str, Any]:
    return {"from": world.staff, "to": [world.manager], "subject": "Invoice 7", "text": "Hello from the API"} | extra


def test_a_send_token_delivers_to_a_local_mailbox(app: Flask, db: Database, world: World) -> None:
    answer = app.test_client().post(SEND_URL, json=draft(world), headers=send_token(db, world.staff))
    assert answer.status_code == 202, answer.get_data(as_text=True)
    body = answer.get_json()
    assert set(body) == {"id", "message_id", "recipients"} and len(body["id"]) == 20
    assert body["recipients"] == [{"address": world.manager, "status": "delivered"}]
    (stored,) = inbox(db, world.manager)
    # The answer's form is the log's: no angle brackets, so it finds the message in a search.
    assert stored["Message-ID"] == f"<{body['message_id']}>" and body["message_id"].endswith("@mx.test.example")
    (logged,) = search_messages(db, actor=CONSOLE, filters=LogFilters(message_id=body["message_id"])).items
    assert logged.id == body["id"]
    assert stored["Date"] and stored["Subject"] == "Invoice 7" and stored["From"] == world.staff
    assert stored.get_content().strip() == "Hello from the API"
    (used,) = tokens.list_tokens(db, actor=CONSOLE)
    assert used.last_used_at is not None and used.sends_mail


def test_parts_become_one_mime_message(app: Flask, db: Database, world: World) -> None:
    pdf = b"%PDF-1.4 \x00\xff binary"
    request = draft(
        world,
        subject="Grüße",
        html="<p>Hello</p>",
        cc=[world.admin],
        bcc=[world.other],
        headers={"Reply-To": "billing@alpha.example", "X-Campaign": "winter"},
        attachments=[{"filename": "bill.pdf", "content_type": "application/pdf",
                      "content_base64": base64.b64encode(pdf).decode()}],
        tags=["invoice"],
    )
    answer = app.test_client().post(SEND_URL, json=request, headers=send_token(db, world.staff))
    assert answer.status_code == 202
    statuses = {r["address"]: r["status"] for r in answer.get_json()["recipients"]}
    assert statuses == {world.manager: "delivered", world.admin: "delivered", world.other: "delivered"}
    (stored,) = inbox(db, world.other)
    assert stored["Subject"] == "Grüße" and stored["Cc"] == world.admin and "Bcc" not in stored
    assert stored["Reply-To"] == "billing@alpha.example" and stored["X-Campaign"] == "winter"
    body = stored.get_body(("plain",))
    assert body is not None and body.get_content().strip() == "Hello from the API"
    html = stored.get_body(("html",))
    assert html is not None and "<p>Hello</p>" in html.get_content()
    (attached,) = list(stored.iter_attachments())
    assert attached.get_filename() == "bill.pdf" and attached.get_content() == pdf


def test_remote_recipients_are_queued(app: Flask, db: Database, world: World) -> None:
    answer = app.test_client().post(SEND_URL, json=draft(world, to=["friend@remote.example"]), headers=send_token(db, world.staff))
    assert answer.status_code == 202
    assert answer.get_json()["recipients"] == [{"address": "friend@remote.example", "status": "queued"}]
    (delivery,) = outbound.claim(db, limit=10, lease=outbound.timedelta(minutes=1))
    assert delivery.sender == world.staff and [r.address for r in delivery.recipients] == ["friend@remote.example"]


def test_a_whole_message_is_completed_and_sent(app: Flask, db: Database, world: World) -> None:
    raw = f"From: {world.staff}\nTo: {world.manager}\nSubject: raw\n\nbody line\n".encode()
    request = {"from": world.staff, "to": [world.manager], "raw_base64": base64.b64encode(raw).decode()}
    answer = app.test_client().post(SEND_URL, json=request, headers=send_token(db, world.staff))
    assert answer.status_code == 202
    (stored,) = inbox(db, world.manager)
    assert stored["Message-ID"] == f"<{answer.get_json()['message_id']}>" and stored["Date"] and stored["Subject"] == "raw"


def test_unknown_local_recipients_are_refused_in_the_answer(app: Flask, db: Database, world: World) -> None:
    request = draft(world, to=[world.manager, "nobody@alpha.example"])
    answer = app.test_client().post(SEND_URL, json=request, headers=send_token(db, world.staff))
    assert answer.status_code == 202
    assert answer.get_json()["recipients"] == [
        {"address": world.manager, "status": "delivered"},
        {"address": "nobody@alpha.example", "status": "refused"},
    ]
    logged = {r.address: (r.status, r.reply) for r in get_message(db, answer.get_json()["id"], actor=CONSOLE).recipients}
    assert logged == {world.manager: ("delivered", ""), "nobody@alpha.example": ("refused", "550 5.1.1 <nobody@alpha.example>: no such user")}
    only_unknown = app.test_client().post(SEND_URL, json=draft(world, to=["nobody@alpha.example"]), headers=send_token(db, world.staff))
    assert only_unknown.status_code == 422 and only_unknown.get_json()["field"] == "to"
    found = search_messages(db, actor=CONSOLE, filters=LogFilters(status="refused", sender=world.staff)).items
    (refusal,) = [entry for entry in found if entry.id != answer.get_json()["id"]]
    assert len(found) == 2 and refusal.via == "api"
    (refused,) = get_message(db, refusal.id, actor=CONSOLE).recipients
    assert (refused.address, refused.status, refused.reply) == ("nobody@alpha.example", "refused", "550 5.1.1 <nobody@alpha.example>: no such user")


def test_an_api_send_is_logged_under_the_answers_id(app: Flask, db: Database, world: World) -> None:
    """The same record SMTP mail gets: Message-ID, sender, size, `api`, client address, user, each recipient."""
    request = draft(world, to=[world.manager, "friend@remote.example", "nobody@alpha.example"])
    sent = app.test_client().post(SEND_URL, json=request, headers=send_token(db, world.staff)).get_json()
    logged = app.test_client().get(f"{SEND_URL}/{sent['id']}", headers=bearer(db, world.admin, read_only=True)).get_json()
    (stored,) = inbox(db, world.manager)
    assert (logged["id"], logged["message_id"], logged["sender"]) == (sent["id"], sent["message_id"].strip("<>"), world.staff)
    assert (logged["via"], logged["client_ip"], logged["user"]) == ("api", "127.0.0.1", world.staff)
    assert logged["size"] >= len(stored.as_bytes()) - 512 and logged["size"] > 0
    recipients = {r["address"]: r for r in logged["recipients"]}
    assert {a: r["status"] for a, r in recipients.items()} == {
        world.manager: "delivered", "friend@remote.example": "queued", "nobody@alpha.example": "refused"
    }
    assert recipients["nobody@alpha.example"]["reply"] == "550 5.1.1 <nobody@alpha.example>: no such user"
    assert [e["status"] for e in recipients["friend@remote.example"]["timeline"]] == ["queued"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"to": []}, "to"),
        ({"to": ["not an address"]}, "to[0]"),
        ({"cc": ["a@b.example", "@@"]}, "cc[1]"),
        ({"text": None}, "text"),
        ({"attachments": [{"filename": "a", "content_type": "text/plain", "content_base64": "%%%"}]},
         "attachments[0].content_base64"),
        ({"attachments": [{"filename": "a", "content_type": "no type", "content_base64": ""}]},
         "attachments[0].content_type"),
        ({"headers": {"Bad Name": "x"}}, "headers.Bad Name"),
        ({"headers": {"From": "ceo@alpha.example"}}, "headers.From"),
        ({"raw_base64": "AAAA"}, "subject"),
        ({"tags": ["x" * 200]}, "tags"),
        ({"color": "red"}, "color"),
    ],
)
def test_problems_name_the_field(app: Flask, db: Database, world: World, change: dict[str, Any], field: str) -> None:
    request = {key: value for key, value in (draft(world) | change).items() if value is not None}
    answer = app.test_client().post(SEND_URL, json=request, headers=send_token(db, world.staff))
    assert answer.status_code == 422 and answer.mimetype == PROBLEM
    problem = answer.get_json()
    assert problem["field"] == field and problem["status"] == 422 and problem["title"] and problem["detail"]
    assert inbox(db, world.manager) == []


def test_only_send_tokens_send_and_they_do_nothing_else(app: Flask, db: Database, world: World) -> None:
    client = app.test_client()
    write = client.post(SEND_URL, json=draft(world), headers=bearer(db, world.admin, read_only=False))
    assert write.status_code == 403 and write.mimetype == PROBLEM and "send" in write.get_json()["detail"]
    sender = send_token(db, world.staff)
    assert client.get("/api/v1/domains", headers=sender).status_code == 403
    assert client.get("/api/v1/me", headers=sender).status_code == 403
    unauthenticated = client.post(SEND_URL, json=draft(world))
    assert unauthenticated.status_code == 401 and unauthenticated.mimetype == PROBLEM


def test_any_mailbox_may_hold_a_send_token_but_not_limited_to_domains(db: Database, world: World) -> None:
    issued = tokens.create_token(db, world.staff, name="app", sends_mail=True, actor=CONSOLE)
    assert issued.token.sends_mail and issued.token.read_only
    with pytest.raises(InvalidValue):
        tokens.create_token(db, world.staff, name="app", sends_mail=True, domains=[world.alpha], actor=CONSOLE)


@pytest.mark.parametrize("sends_mail", [True, False], ids=["send token", "admin token"])
def test_a_revoked_token_stops_working_at_once(app: Flask, db: Database, world: World, sends_mail: bool) -> None:
    issued = tokens.create_token(db, world.manager, name="app", sends_mail=sends_mail, actor=CONSOLE)
    assert tokens.verify_token(db, issued.secret).scope.sends_mail is sends_mail
    tokens.revoke_token(db, issued.token.id, actor=CONSOLE)
    with pytest.raises(AuthFailed):
        tokens.verify_token(db, issued.secret)
    refused = app.test_client().post(SEND_URL, json=draft(world), headers={"Authorization": f"Bearer {issued.secret}"})
    assert refused.status_code == 401


def test_a_send_token_stops_working_when_its_owner_is_disabled(db: Database, world: World) -> None:
    issued = tokens.create_token(db, world.staff, name="app", sends_mail=True, actor=CONSOLE)
    assert tokens.verify_token(db, issued.secret).scope.address == world.staff
    update_mailbox(db, world.staff, active=False, actor=CONSOLE)
    with pytest.raises(AuthFailed):
        tokens.verify_token(db, issued.secret)


def test_a_send_token_expires_on_time(db: Database, world: World) -> None:
    start = datetime.now(UTC)
    issued = tokens.create_token(
        db, world.staff, name="app", sends_mail=True, expires_at=start + timedelta(seconds=2), actor=CONSOLE
    )
    assert tokens.verify_token(db, issued.secret, now=start).scope.sends_mail
    with pytest.raises(AuthFailed):
        tokens.verify_token(db, issued.secret, now=start + timedelta(seconds=2))


def test_the_same_idempotency_key_sends_once(app: Flask, db: Database, world: World) -> None:
    client, headers = app.test_client(), send_token(db, world.staff) | {"Idempotency-Key": "order-1"}
    first = client.post(SEND_URL, json=draft(world), headers=headers)
    again = client.post(SEND_URL, json=draft(world), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(inbox(db, world.manager)) == 1
    changed = client.post(SEND_URL, json=draft(world, subject="other"), headers=headers)
    assert changed.status_code == 422 and changed.get_json()["field"] == "Idempotency-Key"
    fresh = client.post(SEND_URL, json=draft(world), headers=headers | {"Idempotency-Key": "order-2"})
    assert fresh.status_code == 202 and fresh.get_json()["id"] != first.get_json()["id"]
    assert len(inbox(db, world.manager)) == 2


def test_a_key_is_kept_24_hours_then_sends_again(app: Flask, db: Database, world: World) -> None:
    client, headers = app.test_client(), send_token(db, world.staff) | {"Idempotency-Key": "daily"}
    first = client.post(SEND_URL, json=draft(world), headers=headers).get_json()

    def age(hours: int) -> None:
        with db.session.begin() as s:
            s.execute(update(IdempotentSend).values(created_at=datetime.now(UTC) - timedelta(hours=hours)))

    age(23)
    assert client.post(SEND_URL, json=draft(world), headers=headers).get_json() == first
    age(25)
    later = client.post(SEND_URL, json=draft(world), headers=headers)
    assert later.status_code == 202 and "Idempotent-Replayed" not in later.headers and later.get_json()["id"] != first["id"]
    assert len(inbox(db, world.manager)) == 2


def test_concurrent_requests_with_one_key_send_once(settings: Settings, db: Database, world: World) -> None:
    app = create_app(settings, database=db)
    headers = send_token(db, world.staff) | {"Idempotency-Key": "burst"}
    statuses: list[int] = []
    start = threading.Barrier(6)

    def one(client: FlaskClient) -> None:
        start.wait()
        statuses.append(client.post(SEND_URL, json=draft(world), headers=headers).status_code)

    threads = [threading.Thread(target=one, args=(app.test_client(),)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(inbox(db, world.manager)) == 1
    assert statuses.count(202) >= 1 and set(statuses) <= {202, 409}


def test_a_failed_send_gives_its_key_back(app: Flask, db: Database, world: World) -> None:
    client, headers = app.test_client(), send_token(db, world.staff) | {"Idempotency-Key": "k"}
    assert client.post(SEND_URL, json=draft(world, to=["nobody@alpha.example"]), headers=headers).status_code == 422
    assert client.post(SEND_URL, json=draft(world), headers=headers).status_code == 202


def test_the_hourly_submission_rate_applies(settings: Settings, db: Database, world: World) -> None:
    one_an_hour = Database(dataclasses.replace(settings, submission_rate_per_hour=1))
    try:
        client, headers = create_app(one_an_hour.settings, database=one_an_hour).test_client(), send_token(db, world.staff)
        assert client.post(SEND_URL, json=draft(world), headers=headers).status_code == 202
        limited = client.post(SEND_URL, json=draft(world), headers=headers)
    finally:
        one_an_hour.dispose()
    assert limited.status_code == 429 and limited.mimetype == PROBLEM and "hour" in limited.get_json()["detail"]
    assert len(inbox(db, world.manager)) == 1


def test_the_hourly_rate_counts_mail_that_only_leaves_and_keeps_none_over_it(
    settings: Settings, db: Database, world: World
) -> None:
    """With no mailbox to reserve for, the count is taken where the queued copies are released."""
    one_an_hour = Database(dataclasses.replace(settings, submission_rate_per_hour=1))
    far = draft(world, to=["friend@remote.example"])
    try:
        client, headers = create_app(one_an_hour.settings, database=one_an_hour).test_client(), send_token(db, world.staff)
        assert client.post(SEND_URL, json=far, headers=headers).status_code == 202
        limited = client.post(SEND_URL, json=far, headers=headers)
        assert client.post(SEND_URL, json=draft(world), headers=headers).status_code == 429
    finally:
        one_an_hour.dispose()
    assert limited.status_code == 429
    (delivery,) = outbound.claim(db, limit=10, lease=outbound.timedelta(minutes=1))
    assert [r.address for r in delivery.recipients] == ["friend@remote.example"]
    assert inbox(db, world.manager) == []
    assert len(search_messages(db, actor=CONSOLE, filters=LogFilters(sender=world.staff)).items) == 1


def test_a_manager_makes_a_send_token_on_the_tokens_page(as_manager: PortalClient, db: Database, world: World) -> None:
    created = as_manager.post("/tokens/", {"name": "shop", "access": "send"}, token_page="/tokens/")
    found = re.search(r'id="new-token">([^<]+)<', text_of(created))
    assert found is not None
    assert tokens.verify_token(db, found.group(1)).scope.sends_mail
    assert "Send mail" in text_of(as_manager.get("/tokens/"))
    refused = as_manager.post("/tokens/", {"name": "x", "access": "send", "domains": world.alpha}, token_page="/tokens/")
    assert refused.status_code == 422 and "takes no domains" in text_of(refused)
