"""POST /api/v1/messages and the suppression list: a recipient the sending domain suppressed
answers `suppressed`, is not queued, and is logged `refused` with a reply that says why; the
others go as usual; an entry of another domain, or one that expired, holds nothing back."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Flask

from shared.accounts.message_tracking import get_message
from shared.accounts.views import CONSOLE
from shared.mail import outbound
from shared.storage.db import Database
from tests.suppressed import suppress

from .support import World
from .test_send_api import SEND_URL, draft, send_token

GONE, FRIEND = "gone@remote.example", "friend@remote.example"


def queued(db: Database) -> list[str]:
    return [r.address for d in outbound.claim(db, limit=10, lease=timedelta(minutes=1)) for r in d.recipients]


def test_a_suppressed_recipient_is_answered_suppressed_and_not_sent(app: Flask, db: Database, world: World) -> None:
    suppress(db, world.manager, GONE)  # alpha.example, the staff's domain too
    answer = app.test_client().post(SEND_URL, json=draft(world, to=[world.manager, GONE, FRIEND]), headers=send_token(db, world.staff))
    assert answer.status_code == 202
    body = answer.get_json()
    assert body["recipients"] == [
        {"address": world.manager, "status": "delivered"},
        {"address": GONE, "status": "suppressed"},
        {"address": FRIEND, "status": "queued"},
    ]
    assert queued(db) == [FRIEND]
    logged = {r.address: (r.status, r.reply) for r in get_message(db, body["id"], actor=CONSOLE).recipients}
    day = datetime.now(timezone.utc).date().isoformat()
    assert logged[GONE] == ("refused", f"550 5.7.1 <{GONE}>: suppressed after a hard bounce on {day}")
    assert logged[FRIEND][0] == "queued" and logged[world.manager][0] == "delivered"


def test_a_send_to_suppressed_recipients_only_is_logged_and_sends_nothing(app: Flask, db: Database, world: World) -> None:
    suppress(db, world.manager, GONE)
    unknown = "nobody@alpha.example"
    answer = app.test_client().post(SEND_URL, json=draft(world, to=[GONE, unknown]), headers=send_token(db, world.staff))
    assert answer.status_code == 202
    body = answer.get_json()
    assert body["recipients"] == [{"address": GONE, "status": "suppressed"}, {"address": unknown, "status": "refused"}]
    assert queued(db) == []
    logged = {r.address: (r.status, r.reply) for r in get_message(db, body["id"], actor=CONSOLE).recipients}
    assert logged[GONE][0] == "refused" and "suppressed" in logged[GONE][1]
    assert logged[unknown] == ("refused", f"550 5.1.1 <{unknown}>: no such user")


def test_another_domains_or_an_expired_entry_holds_nothing_back(app: Flask, db: Database, world: World) -> None:
    suppress(db, world.other, GONE)  # beta.example's list
    suppress(db, world.manager, FRIEND, days=30, at=datetime.now(timezone.utc) - timedelta(days=31))
    answer = app.test_client().post(SEND_URL, json=draft(world, to=[GONE, FRIEND]), headers=send_token(db, world.staff))
    assert [r["status"] for r in answer.get_json()["recipients"]] == ["queued", "queued"]
    assert sorted(queued(db)) == [FRIEND, GONE]
