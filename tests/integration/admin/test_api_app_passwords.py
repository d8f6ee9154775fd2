"""/api/v1/mailboxes/{address}/app-passwords, the mailbox record's last_login and the password
rule at the API, on both databases."""
from __future__ import annotations

import dataclasses

from flask import Flask

from services.admin import create_app
from shared import accounts
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.errors import AuthFailed
from shared.storage.db import Database

from .support import World, bearer

KEYS = ["id", "name", "protocols", "created_at", "expires_at", "last_used_at", "last_used_from"]


def test_make_list_and_revoke(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.admin, read_only=False)
    url = f"/api/v1/mailboxes/{world.staff}/app-passwords"
    made = api.post(url, json={"name": "phone", "protocols": ["smtp", "imap"], "expires_days": 30}, headers=auth)
    assert made.status_code == 201
    body = made.get_json()
    assert set(body) == {"app_password", "password"} and sorted(body["app_password"]) == sorted(KEYS)
    assert body["app_password"]["protocols"] == ["smtp", "imap"] and body["app_password"]["expires_at"]
    assert accounts.authenticate(db, world.staff, body["password"], "smtp", "192.0.2.5").address == world.staff
    listed = api.get(url, headers=auth).get_json()["items"]
    assert [(item["name"], item["last_used_from"]) for item in listed] == [("phone", "192.0.2.5")]
    assert body["password"] not in api.get(url, headers=auth).get_data(as_text=True)
    everything = api.post(url, json={"name": "laptop"}, headers=auth).get_json()["app_password"]
    assert everything["protocols"] == ["smtp", "pop3", "imap"] and everything["expires_at"] is None
    assert api.delete(f"{url}/{body['app_password']['id']}", headers=auth).status_code == 204
    try:
        accounts.authenticate(db, world.staff, body["password"], "smtp", "192.0.2.5")
        raise AssertionError("a revoked app password logged in")
    except AuthFailed:
        pass
    assert api.delete(f"{url}/{body['app_password']['id']}", headers=auth).status_code == 404


def test_bad_input_is_a_4xx_naming_the_field(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.admin, read_only=False)
    url = f"/api/v1/mailboxes/{world.staff}/app-passwords"
    for payload, field in [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x", "protocols": ["ftp"]}, "protocols"),
        ({"name": "x", "protocols": "smtp"}, "protocols"),
        ({"name": "x", "expires_days": 0}, "expires_days"),
        ({"name": "x", "expires_days": "soon"}, "expires_days"),
        ({"name": "x", "colour": "red"}, "colour"),
    ]:
        response = api.post(url, json=payload, headers=auth)
        assert response.status_code == 422, payload
        assert field in response.get_json()["error"].get("fields", {}), (payload, response.get_json())
    assert api.post("/api/v1/mailboxes/nobody@alpha.example/app-passwords", json={"name": "x"}, headers=auth).status_code == 404
    assert api.delete(f"{url}/not-a-number", headers=auth).status_code == 404


def test_rights_are_the_mailbox_rights(app: Flask, db: Database, world: World) -> None:
    api = app.test_client()
    manager, reader = bearer(db, world.manager, read_only=False), bearer(db, world.manager)
    assert api.post(f"/api/v1/mailboxes/{world.staff}/app-passwords", json={"name": "x"}, headers=manager).status_code == 201
    assert api.post(f"/api/v1/mailboxes/{world.other}/app-passwords", json={"name": "x"}, headers=manager).status_code == 404
    assert api.post(f"/api/v1/mailboxes/{world.staff}/app-passwords", json={"name": "x"}, headers=reader).status_code == 403
    assert api.get(f"/api/v1/mailboxes/{world.staff}/app-passwords", headers=reader).status_code == 200


def test_the_mailbox_record_has_last_login(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.admin)
    fresh = api.get(f"/api/v1/mailboxes/{world.staff}", headers=auth).get_json()
    assert fresh["last_login"] == {"portal": None, "smtp": None, "pop3": None, "imap": None}
    accounts.authenticate(db, world.staff, "s3cret-password", "pop3", "198.51.100.4")
    record = api.get(f"/api/v1/mailboxes/{world.staff}", headers=auth).get_json()["last_login"]
    assert record["pop3"]["from"] == "198.51.100.4" and record["pop3"]["at"].endswith("+00:00")
    assert record["smtp"] is None
    listed = api.get("/api/v1/mailboxes?domain=alpha.example", headers=auth).get_json()["items"]
    assert {m["address"]: m["last_login"]["pop3"] for m in listed}[world.staff] == record["pop3"]


def test_the_password_rule_at_the_api(settings: Settings, db: Database, world: World) -> None:
    strict = dataclasses.replace(settings, password_min_length=10)
    api, auth = create_app(strict, database=Database(strict)).test_client(), bearer(db, world.admin, read_only=False)
    short = api.put(f"/api/v1/mailboxes/{world.staff}/password", json={"password": "b"}, headers=auth)
    assert short.status_code == 422 and short.get_json()["error"]["fields"] == {
        "password": ["the password must have at least 10 characters"]
    }
    created = api.post("/api/v1/mailboxes", json={"address": "x@alpha.example", "password": "123456789"}, headers=auth)
    assert created.status_code == 422 and "password" in created.get_json()["error"]["fields"]
    generated = api.post("/api/v1/mailboxes", json={"address": "y@alpha.example"}, headers=auth).get_json()["password"]
    assert len(generated) >= 10
    assert accounts.get_mailbox(db, "y@alpha.example", actor=CONSOLE).address == "y@alpha.example"
