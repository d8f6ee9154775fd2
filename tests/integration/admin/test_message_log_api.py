"""GET /api/v1/messages and /api/v1/messages/{id}: search by every field, cursor paging, the
per-recipient timeline, domain managers scoped to their domains, and clear 4xx for bad input."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from flask import Flask

from shared.storage.db import Database
from tests.messagelog import accept

from .support import World, bearer


def seed(db: Database, world: World) -> tuple[str, str, str]:
    to_alpha = accept(db, "sender@remote.example", local=[world.staff], message_id="one@remote.example")
    time.sleep(0.002)  # ids are ordered by the millisecond
    from_beta = accept(db, world.other, remote=["friend@remote.example"], via="submission", message_id="two@beta.example")
    time.sleep(0.002)
    from_alpha = accept(db, world.staff, local=[world.other], remote=["x@remote.example"], message_id="three@alpha.example")
    return to_alpha, from_beta, from_alpha


def test_search_by_each_field_and_page_by_cursor(app: Flask, db: Database, world: World) -> None:
    to_alpha, from_beta, from_alpha = seed(db, world)
    client, auth = app.test_client(), bearer(db, world.admin, read_only=True)

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/v1/messages{query}", headers=auth)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json["items"]]

    assert ids("") == [from_alpha, from_beta, to_alpha]
    assert ids(f"?sender={world.other}") == [from_beta]
    assert ids("?sender=SENDER@remote.example") == [to_alpha]
    assert ids(f"?recipient={world.other}") == [from_alpha]
    assert ids("?message_id=%3Ctwo@beta.example%3E") == [from_beta]
    assert ids("?status=queued") == [from_alpha, from_beta]
    assert ids("?status=delivered&recipient=x@remote.example") == []
    middle = datetime.fromtimestamp(int(from_beta[:12], 16) / 1000, timezone.utc)
    assert ids(f"?since={middle.isoformat().replace('+00:00', 'Z')}") == [from_alpha, from_beta]
    assert ids(f"?until={middle.isoformat()}".replace("+", "%2B")) == [from_beta, to_alpha]
    assert ids(f"?until={(middle - timedelta(days=1)).isoformat()}".replace("+", "%2B")) == []
    first = client.get("/api/v1/messages?limit=2", headers=auth).json
    assert [i["id"] for i in first["items"]] == [from_alpha, from_beta] and first["next_cursor"] == from_beta
    last = client.get(f"/api/v1/messages?limit=2&cursor={first['next_cursor']}", headers=auth).json
    assert [i["id"] for i in last["items"]] == [to_alpha] and last["next_cursor"] is None
    [entry] = [i for i in first["items"] if i["id"] == from_beta]
    assert entry | {"created_at": None, "recipients": None} == {
        "id": from_beta, "message_id": "two@beta.example", "sender": world.other, "size": entry["size"],
        "via": "submission", "client_ip": "192.0.2.7", "user": world.other, "created_at": None, "recipients": None,
    }
    assert [(r["address"], r["status"], r["attempts"]) for r in entry["recipients"]] == [("friend@remote.example", "queued", 0)]


def test_since_and_until_take_days_zones_either_case_and_unix_seconds(app: Flask, db: Database, world: World) -> None:
    """As curl sends them: a `+` left unencoded arrives as a space; a day `until` includes that day."""
    to_alpha, from_beta, from_alpha = seed(db, world)
    client, auth = app.test_client(), bearer(db, world.admin, read_only=True)

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/v1/messages?{query}", headers=auth)
        assert response.status_code == 200, (query, response.json)
        return [item["id"] for item in response.json["items"]]

    everything = [from_alpha, from_beta, to_alpha]
    middle = datetime.fromtimestamp(int(from_beta[:12], 16) / 1000, timezone.utc)
    today, east = middle.date(), timezone(timedelta(hours=2))
    assert ids(f"until={today}") == ids(f"since={today}") == ids(f"since={today}&until={today}") == everything
    assert ids(f"until={today - timedelta(days=1)}") == ids(f"since={today + timedelta(days=1)}") == []
    assert ids(f"since={middle.astimezone(east).isoformat()}") == [from_alpha, from_beta]  # `+02:00` read as ` 02:00`
    assert ids(f"until={middle.astimezone(east).isoformat()}") == [from_beta, to_alpha]
    assert ids(f"since={middle.strftime('%Y-%m-%dt%H:%M:%S.%fz')}") == [from_alpha, from_beta]
    assert ids(f"until={middle.strftime('%Y-%m-%d %H:%M:%S.%f')}") == [from_beta, to_alpha]  # no zone: UTC
    day_before, day_after = int(middle.timestamp()) - 86400, int(middle.timestamp()) + 86400
    assert ids(f"since={day_before}&until={day_after}") == everything
    assert ids(f"since={day_after}") == ids(f"until={day_before}") == []


def test_one_message_has_each_recipients_timeline(app: Flask, db: Database, world: World) -> None:
    _to_alpha, _from_beta, from_alpha = seed(db, world)
    response = app.test_client().get(f"/api/v1/messages/{from_alpha}", headers=bearer(db, world.admin, read_only=True))
    assert response.status_code == 200
    recipients = {r["address"]: r for r in response.json["recipients"]}
    assert recipients[world.other]["status"] == "delivered"
    assert [(e["status"], e["relay"]) for e in recipients[world.other]["timeline"]] == [("delivered", "local")]
    assert [e["status"] for e in recipients["x@remote.example"]["timeline"]] == ["queued"]


def test_a_domain_manager_sees_only_messages_from_or_to_their_domains(app: Flask, db: Database, world: World) -> None:
    to_alpha, from_beta, from_alpha = seed(db, world)
    client, auth = app.test_client(), bearer(db, world.manager, read_only=True)
    listed = client.get("/api/v1/messages", headers=auth).json
    assert [item["id"] for item in listed["items"]] == [from_alpha, to_alpha]
    assert client.get(f"/api/v1/messages?sender={world.other}", headers=auth).json["items"] == []
    hidden = client.get(f"/api/v1/messages/{from_beta}", headers=auth)
    missing = client.get(f"/api/v1/messages/{'0' * 20}", headers=auth)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json["error"]["message"].replace(from_beta, "ID") == missing.json["error"]["message"].replace("0" * 20, "ID")


def test_bad_queries_are_422_naming_the_parameter(app: Flask, db: Database, world: World) -> None:
    client, auth = app.test_client(), bearer(db, world.admin, read_only=True)
    for query, field in (
        ("status=sent", "status"),
        ("cursor=not-a-cursor", "cursor"),
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("limit=-1", "limit"),
    ):
        response = client.get(f"/api/v1/messages?{query}", headers=auth)
        assert response.status_code == 422, query
        assert field in response.json["error"]["fields"], query
    assert client.get("/api/v1/messages/not-an-id", headers=auth).status_code == 404
