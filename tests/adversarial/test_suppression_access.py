"""The suppression list under attack: a domain manager removing or reading another domain's
entries by every door (API, portal, the use cases), a read-only token removing, and search
terms built to match everything or break the query. Each refusal leaves the entries as they were."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from flask import Flask
from integration.admin.support import PortalClient, World, bearer, text_of

from services.admin import create_app
from shared.accounts import suppressions
from shared.accounts.permissions import scope_of
from shared.accounts.views import CONSOLE, Actor
from shared.errors import NotFound
from shared.storage.db import Database
from tests.suppressed import suppress

from . import test_message_log_access

world = test_message_log_access.world  # the fixture: alpha.example's manager, beta.example's someone

GONE = "gone@remote.example"
HOSTILE_TERMS = ["%", "_", "%@%", "*", "' OR '1'='1", "\\", "\x00", "gone@remote.example\x00", "%%%%"]


@pytest.fixture(autouse=True)
def listed(db: Database, world: World) -> None:
    """alpha.example (the manager's) and beta.example suppress GONE; beta one more address."""
    suppress(db, world.manager, GONE)
    suppress(db, world.other, GONE)
    suppress(db, world.other, "beta-only@remote.example")


@pytest.fixture
def app(db: Database) -> Flask:
    return create_app(db.settings, database=db)


def entries(db: Database) -> list[tuple[str, str]]:
    return sorted((e.domain, e.address) for e in suppressions.list_suppressions(db, actor=CONSOLE).items)


def test_a_manager_removes_no_other_domains_entry_by_any_door(app: Flask, db: Database, world: World) -> None:
    before = entries(db)
    assert len(before) == 3
    manager = Actor(scope_of(world.manager, is_global_admin=False, managed_domains=[world.alpha]))
    for address in (GONE, "beta-only@remote.example", "nobody@remote.example"):
        with pytest.raises(NotFound):
            suppressions.remove_suppression(db, world.beta, address, actor=manager)
        with pytest.raises(NotFound):
            suppressions.get_suppression(db, world.beta, address, actor=manager)
    api = app.test_client()
    token = bearer(db, world.manager, read_only=False)
    unknown = api.delete(f"/api/v1/suppressions/{world.alpha}/nobody@remote.example", headers=token)
    for address in (GONE, "beta-only@remote.example"):
        answer = api.delete(f"/api/v1/suppressions/{world.beta}/{quote(address)}", headers=token)
        assert answer.status_code == 404
        assert answer.get_json()["error"]["code"] == unknown.get_json()["error"]["code"] == "not_found"
    portal = PortalClient(app.test_client())
    assert portal.login(world.manager).status_code == 302
    for address in (GONE, "beta-only@remote.example"):
        page = f"/suppressions/{world.beta}/{address}/remove"
        assert portal.get(page).status_code == 404
        assert portal.post(page, {"confirmation": address}, token_page=f"/suppressions/{world.alpha}/{GONE}/remove").status_code == 404
    assert entries(db) == before


def test_a_manager_lists_only_their_domains_entries(app: Flask, db: Database, world: World) -> None:
    api = app.test_client()
    token = bearer(db, world.manager)
    listed = api.get("/api/v1/suppressions", headers=token).get_json()["items"]
    assert [(item["domain"], item["address"]) for item in listed] == [(world.alpha, GONE)]
    assert api.get(f"/api/v1/suppressions?domain={world.beta}", headers=token).status_code == 404
    assert api.get("/api/v1/suppressions?address=beta-only", headers=token).get_json()["items"] == []
    portal = PortalClient(app.test_client())
    assert portal.login(world.manager).status_code == 302
    page = text_of(portal.get("/suppressions/"))
    assert GONE in page and "beta-only@remote.example" not in page


def test_a_read_only_token_removes_nothing(app: Flask, db: Database, world: World) -> None:
    answer = app.test_client().delete(f"/api/v1/suppressions/{world.alpha}/{GONE}", headers=bearer(db, world.manager))
    assert answer.status_code == 403
    assert len(entries(db)) == 3


@pytest.mark.parametrize("term", HOSTILE_TERMS)
def test_search_terms_match_only_what_they_say(app: Flask, db: Database, world: World, term: str) -> None:
    api = app.test_client()
    answer = api.get("/api/v1/suppressions", query_string={"address": term}, headers=bearer(db, world.admin))
    assert answer.status_code == 200, text_of(answer)
    assert answer.get_json()["items"] == []
    page = PortalClient(app.test_client())
    assert page.login(world.admin).status_code == 302
    shown = page.get("/suppressions/", query_string={"address": term})
    assert shown.status_code in (200, 422) and 'data-address="' not in text_of(shown)


@pytest.mark.parametrize("cursor", ["-1", "1e9", "0x10", "' OR 1=1", "9" * 11])
def test_forged_cursors_are_refused(app: Flask, db: Database, world: World, cursor: str) -> None:
    answer = app.test_client().get("/api/v1/suppressions", query_string={"cursor": cursor}, headers=bearer(db, world.admin))
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "validation_error"


def test_a_cursor_beyond_every_id_answers_the_whole_list(app: Flask, db: Database, world: World) -> None:
    """The id column is a 32-bit INTEGER: PostgreSQL refuses a larger parameter, so it is capped."""
    answer = app.test_client().get("/api/v1/suppressions", query_string={"cursor": "9" * 10}, headers=bearer(db, world.admin))
    assert answer.status_code == 200 and len(answer.get_json()["items"]) == 3
