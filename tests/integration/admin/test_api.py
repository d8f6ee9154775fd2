"""The JSON API: bearer tokens with scopes and expiry, the same role rules as the pages,
JSON errors with stable codes, and the OpenAPI document."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from shared import accounts
from shared.accounts import tokens
from shared.accounts.views import CONSOLE
from shared.errors import AuthFailed, InvalidValue, PermissionDenied
from shared.storage.db import Database

from .support import PortalClient, World, bearer


def error_code(response: TestResponse) -> str:
    assert response.is_json, response.get_data(as_text=True)
    return str(response.get_json()["error"]["code"])


def test_requests_without_a_good_token_are_refused(app: Flask, db: Database, world: World) -> None:
    api: FlaskClient = app.test_client()
    assert error_code(api.get("/api/v1/domains")) == "unauthorized"
    assert api.get("/api/v1/domains").headers["WWW-Authenticate"].startswith("Bearer")
    assert error_code(api.get("/api/v1/domains", headers={"Authorization": "Bearer bm_000000000000.nope"})) == "unauthorized"
    assert error_code(api.get("/api/v1/domains", headers={"Authorization": "Basic cm9vdDpwdw=="})) == "unauthorized"
    expiring = tokens.create_token(db, world.admin, name="old", expires_at=datetime.now(UTC) + timedelta(days=1), actor=CONSOLE)
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {expiring.secret}"}).status_code == 200
    with pytest.raises(AuthFailed):
        tokens.verify_token(db, expiring.secret, now=datetime.now(UTC) + timedelta(days=2))
    with pytest.raises(InvalidValue):
        tokens.create_token(db, world.admin, name="past", expires_at=datetime.now(UTC) - timedelta(days=1), actor=CONSOLE)
    with pytest.raises(PermissionDenied):
        tokens.create_token(db, world.staff, name="mine", actor=CONSOLE)
    browser = PortalClient(api)
    browser.login(world.admin)
    assert browser.get("/").status_code == 200
    assert error_code(browser.get("/api/v1/domains")) == "unauthorized"  # the session cookie counts for nothing


def test_global_token_crud(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.admin, read_only=False)
    created = api.post("/api/v1/domains", json={"name": "gamma.example", "max_mailboxes": 5}, headers=auth)
    assert created.status_code == 201 and created.get_json()["max_mailboxes"] == 5
    assert error_code(api.post("/api/v1/domains", json={"name": "gamma.example"}, headers=auth)) == "conflict"
    assert api.patch("/api/v1/domains/gamma.example", json={"active": False}, headers=auth).get_json()["active"] is False
    new = api.post("/api/v1/mailboxes", json={"address": "Ann@gamma.example", "quota_bytes": 1000}, headers=auth)
    assert new.status_code == 201 and new.get_json()["mailbox"]["address"] == "ann@gamma.example"
    generated = new.get_json()["password"]
    accounts.update_domain(db, "gamma.example", active=True, actor=CONSOLE)
    assert accounts.authenticate(db, "ann@gamma.example", generated, "pop3", "127.0.0.1")
    assert api.put("/api/v1/mailboxes/ann@gamma.example/password", json={"password": "chosen-one"}, headers=auth).status_code == 204
    patch = {"name": "Ann", "smtp_enabled": False, "imap_enabled": False, "managed_domains": ["gamma.example"]}
    changed = api.patch("/api/v1/mailboxes/ann@gamma.example", json=patch, headers=auth).get_json()
    assert (changed["name"], changed["smtp_enabled"], changed["managed_domains"]) == ("Ann", False, ["gamma.example"])
    assert (changed["imap_enabled"], changed["pop3_enabled"]) == (False, True)
    alias = api.post("/api/v1/aliases", json={"source": "@gamma.example", "destinations": ["ann@gamma.example"]}, headers=auth)
    assert alias.status_code == 201
    assert api.get("/api/v1/aliases/@gamma.example", headers=auth).get_json()["destinations"] == ["ann@gamma.example"]
    group = api.post("/api/v1/groups", json={"address": "all@gamma.example", "members": ["ann@gamma.example"]}, headers=auth)
    assert group.get_json() == {"address": "all@gamma.example", "members": ["ann@gamma.example"], "policy": "anyone"}
    assert api.patch("/api/v1/groups/all@gamma.example", json={"policy": "members"}, headers=auth).get_json()["policy"] == "members"
    for url in ("/api/v1/groups/all@gamma.example", "/api/v1/aliases/@gamma.example", "/api/v1/mailboxes/ann@gamma.example"):
        assert api.delete(url, headers=auth).status_code == 204, url
    assert api.delete("/api/v1/domains/gamma.example", headers=auth).status_code == 204
    actions = [entry["action"] for entry in api.get("/api/v1/audit?limit=20", headers=auth).get_json()["items"]]
    assert actions[:3] == ["domain.remove", "mailbox.remove", "alias.remove"]


def test_mailbox_search_pages(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.admin)
    page = api.get("/api/v1/mailboxes?limit=2&offset=1", headers=auth).get_json()
    assert page["total"] == 4 and [m["address"] for m in page["items"]] == [world.admin, world.other]
    found = api.get("/api/v1/mailboxes?search=staff&domain=alpha.example", headers=auth).get_json()
    assert [m["address"] for m in found["items"]] == [world.staff]
    assert error_code(api.get("/api/v1/mailboxes?limit=100000", headers=auth)) == "validation_error"


def test_mailbox_pages_follow_the_next_cursor(app: Flask, db: Database, world: World, password_hash: str) -> None:
    for number in range(5):
        accounts.create_mailbox(db, f"user{number}@alpha.example", password_hash, password_is_hash=True, actor=CONSOLE)
    api, auth = app.test_client(), bearer(db, world.manager)  # a manager of alpha.example only
    url: str | None = "/api/v1/mailboxes?limit=3&search=example"
    seen, pages = [], []
    while url:
        page = api.get(url, headers=auth).get_json()
        assert (page["total"], page["total_exact"], page["limit"]) == (8, True, 3)
        seen += [m["address"] for m in page["items"]]
        pages.append(page)
        url = page["next"]
    assert pages[0]["next"] == "/api/v1/mailboxes?search=example&after=staff@alpha.example&limit=3"
    assert seen == sorted([world.admin, world.manager, world.staff, *(f"user{n}@alpha.example" for n in range(5))])
    after = api.get(f"/api/v1/mailboxes?after={world.staff}", headers=auth).get_json()
    assert [m["address"] for m in after["items"]] == [f"user{n}@alpha.example" for n in range(5)]
    assert after["next"] is None
    assert api.get("/api/v1/mailboxes?limit=0", headers=auth).get_json()["next"] is None


def test_token_scopes(app: Flask, db: Database, world: World) -> None:
    api, read_only = app.test_client(), bearer(db, world.admin, read_only=True)
    assert api.get("/api/v1/domains", headers=read_only).status_code == 200
    refused = api.post("/api/v1/domains", json={"name": "gamma.example"}, headers=read_only)
    assert refused.status_code == 403 and error_code(refused) == "forbidden"
    assert error_code(api.delete(f"/api/v1/mailboxes/{world.staff}", headers=read_only)) == "forbidden"
    assert accounts.count_mailboxes(db, actor=CONSOLE) == 4
    beta_only = bearer(db, world.admin, domains=["beta.example"], read_only=False)
    assert [d["name"] for d in api.get("/api/v1/domains", headers=beta_only).get_json()["items"]] == ["beta.example"]
    assert api.get("/api/v1/domains/alpha.example", headers=beta_only).status_code == 404
    assert api.get(f"/api/v1/mailboxes/{world.staff}", headers=beta_only).status_code == 404
    assert error_code(api.post("/api/v1/domains", json={"name": "x.example"}, headers=beta_only)) == "forbidden"
    me = api.get("/api/v1/me", headers=beta_only).get_json()
    assert me == {"address": world.admin, "is_global_admin": False, "domains": ["beta.example"], "read_only": False}
    accounts.remove_domain(db, world.beta, actor=CONSOLE)  # a token narrowed to a removed domain must not widen to "all"
    assert error_code(api.get("/api/v1/domains", headers=beta_only)) == "unauthorized"


def test_manager_token_follows_the_managers_rights(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.manager, read_only=False)
    assert [d["name"] for d in api.get("/api/v1/domains", headers=auth).get_json()["items"]] == ["alpha.example"]
    for method, url in (
        ("get", "/api/v1/domains/beta.example"),
        ("get", f"/api/v1/mailboxes/{world.other}"),
        ("patch", f"/api/v1/mailboxes/{world.other}"),
        ("delete", f"/api/v1/mailboxes/{world.other}"),
        ("put", f"/api/v1/mailboxes/{world.other}/password"),
        ("get", "/api/v1/mailboxes?domain=beta.example"),
        ("get", "/api/v1/audit?domain=beta.example"),
    ):
        response = getattr(api, method)(url, json={"password": "x-password", "name": "x"}, headers=auth)
        assert (response.status_code, error_code(response)) == (404, "not_found"), (method, url)
    assert api.post("/api/v1/mailboxes", json={"address": "new@beta.example"}, headers=auth).status_code == 404
    assert error_code(api.put(f"/api/v1/mailboxes/{world.admin}/password", json={"password": "pwned-pass"}, headers=auth)) == "forbidden"
    assert error_code(api.patch("/api/v1/domains/alpha.example", json={"max_mailboxes": 1000}, headers=auth)) == "forbidden"
    assert accounts.get_mailbox(db, world.other, actor=CONSOLE).name == ""
    accounts.revoke_role(db, world.manager, domain=world.alpha, actor=CONSOLE)
    assert error_code(api.get("/api/v1/domains", headers=auth)) == "forbidden"


def test_errors_are_json_with_stable_codes(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.admin, read_only=False)
    cases = [
        (api.post("/api/v1/domains", data="not json", headers=auth), 400, "bad_request"),
        (api.post("/api/v1/domains", json={"name": 5}, headers=auth), 422, "validation_error"),
        (api.post("/api/v1/domains", json={"name": "no way"}, headers=auth), 422, "invalid_address"),
        (api.post("/api/v1/mailboxes", json={"address": "a@alpha.example", "password": "\x01bad"}, headers=auth), 422, "invalid_value"),
        (api.patch(f"/api/v1/mailboxes/{world.staff}", json={"colour": "red"}, headers=auth), 422, "validation_error"),
        (api.get("/api/v1/nothing-here", headers=auth), 404, "not_found"),
        (api.put("/api/v1/domains", headers=auth), 405, "method_not_allowed"),
        (api.post("/api/v1/aliases", json={"source": "x@alpha.example", "destinations": []}, headers=auth), 422, "invalid_value"),
    ]
    for response, status, code in cases:
        assert (response.status_code, error_code(response)) == (status, code)
    accounts.update_domain(db, world.beta, max_aliases=1, actor=CONSOLE)
    api.post("/api/v1/aliases", json={"source": "a@beta.example", "destinations": [world.other]}, headers=auth)
    full = api.post("/api/v1/aliases", json={"source": "b@beta.example", "destinations": [world.other]}, headers=auth)
    assert (full.status_code, error_code(full)) == (422, "limit_exceeded")
    assert "maximum of 1 aliases" in full.get_json()["error"]["message"]
    document = api.get("/api/v1/openapi.json")
    assert document.status_code == 200 and document.mimetype == "application/json"
    paths = set(document.get_json()["paths"])
    assert {"/domains", "/domains/{name}", "/mailboxes", "/mailboxes/{address}", "/aliases", "/groups", "/audit", "/me"} <= paths
    assert document.get_json()["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_tokens_page_shows_a_new_token_once(as_manager: PortalClient, db: Database) -> None:
    created = as_manager.post("/tokens/", {"name": "script", "access": "write", "domains": "alpha.example"}, token_page="/tokens/")
    secret = re.search(r'id="new-token">([^<]+)<', created.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    grant = tokens.verify_token(db, secret)
    assert (grant.scope.domains, grant.scope.read_only) == (frozenset({"alpha.example"}), False)
    listing = as_manager.get("/tokens/").get_data(as_text=True)
    assert "script" in listing and secret not in listing
    token_id = tokens.list_tokens(db, actor=CONSOLE)[0].id
    as_manager.post(f"/tokens/{token_id}/revoke", {"confirmation": "script"}, token_page="/tokens/")
    with pytest.raises(AuthFailed):
        tokens.verify_token(db, secret)
