"""The message log and the queue under attack: a domain manager guessing or knowing another
domain's message ids (API, portal, the use cases themselves), and search parameters built to
match everything or break the query (wildcards, quotes, NUL, overlong values, forged cursors)."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from flask import Flask
from integration.admin.support import PASSWORD, PortalClient, World, bearer, text_of

from services.admin import create_app
from shared import accounts
from shared.accounts.message_tracking import LogFilters, bounce_queued, list_queue, retry_queued, search_messages
from shared.accounts.passwords import hash_password
from shared.accounts.permissions import scope_of
from shared.accounts.views import CONSOLE, Actor
from shared.errors import InvalidValue, NotFound
from shared.storage.db import Database
from tests.messagelog import accept

HOSTILE_TERMS = ["%", "_", "%@%", "*", "' OR '1'='1", "\" OR 1=1 --", "') OR ('a'='a", "\\", "%%%%", "<>"]


@pytest.fixture
def world(db: Database) -> World:
    people = World()
    for domain in (people.alpha, people.beta):
        accounts.create_domain(db, domain, actor=CONSOLE)
    hashed = hash_password(PASSWORD)
    for address in (people.admin, people.manager, people.staff, people.other):
        accounts.create_mailbox(db, address, hashed, password_is_hash=True, actor=CONSOLE)
    accounts.grant_role(db, people.admin, global_admin=True, actor=CONSOLE)
    accounts.grant_role(db, people.manager, domain=people.alpha, actor=CONSOLE)
    return people


@pytest.fixture
def app(db: Database) -> Flask:
    return create_app(db.settings, database=db)


@pytest.fixture
def beta_message(db: Database, world: World) -> str:
    accept(db, world.staff, remote=["far@remote.example"], via="submission")
    return accept(db, world.other, remote=["friend@remote.example"], via="submission", message_id="secret@beta.example")


def queue_state(db: Database) -> list[object]:
    return list(list_queue(db, actor=CONSOLE))


def test_a_manager_reaches_no_other_domains_message_by_any_door(
    app: Flask, db: Database, world: World, beta_message: str
) -> None:
    manager = Actor(scope_of(world.manager, is_global_admin=False, managed_domains=[world.alpha]))
    before = queue_state(db)
    guessed = beta_message[:12] + "00000000"  # the right millisecond, a guessed random part
    for log_id in (beta_message, guessed, "0" * 20):
        for act in (retry_queued, bounce_queued):
            with pytest.raises(NotFound) as refused:
                act(db, log_id, actor=manager)
            assert str(refused.value) == f"no queued message: {log_id}"  # the same for one that exists
    assert [m.id for m in search_messages(db, actor=manager, filters=LogFilters(sender=world.other)).items] == []
    assert [m.sender for m in search_messages(db, actor=manager, filters=LogFilters()).items] == [world.staff]

    api, token = app.test_client(), bearer(db, world.manager, read_only=False)
    assert api.get(f"/api/v1/messages/{beta_message}", headers=token).status_code == 404
    assert api.get("/api/v1/messages?message_id=secret@beta.example", headers=token).json["items"] == []

    portal = PortalClient(app.test_client())
    assert portal.login(world.manager).status_code == 302
    assert portal.get(f"/messages/{beta_message}").status_code == 404
    assert 'id="log-empty"' in text_of(portal.get("/messages/?message_id=secret@beta.example"))
    for action in ("retry", "bounce"):
        assert portal.get(f"/queue/{beta_message}/{action}").status_code == 404
        assert portal.post(f"/queue/{beta_message}/{action}", token_page="/queue/").status_code == 404
    assert world.other not in text_of(portal.get("/queue/"))
    assert queue_state(db) == before  # nothing retried, nothing bounced


def test_search_terms_match_exactly_and_never_everything(app: Flask, db: Database, world: World, beta_message: str) -> None:
    api, token = app.test_client(), bearer(db, world.admin, read_only=True)
    assert len(api.get("/api/v1/messages", headers=token).json["items"]) == 2
    for term in HOSTILE_TERMS:
        for field in ("sender", "recipient", "message_id"):
            response = api.get(f"/api/v1/messages?{field}={quote(term)}", headers=token)
            assert response.status_code == 200 and response.json["items"] == [], (field, term)
        assert api.get(f"/api/v1/messages?status={quote(term)}", headers=token).status_code == 422, term
        assert api.get(f"/api/v1/messages?cursor={quote(term)}", headers=token).status_code == 422, term
        with pytest.raises(InvalidValue):
            search_messages(db, actor=CONSOLE, filters=LogFilters(), cursor=term)


def test_nul_bytes_and_overlong_terms_are_refused_before_the_database(app: Flask, db: Database, world: World, beta_message: str) -> None:
    api, token = app.test_client(), bearer(db, world.admin, read_only=True)
    for field in ("sender", "recipient", "message_id"):
        assert api.get(f"/api/v1/messages?{field}=a%00b", headers=token).status_code == 422, field
        with pytest.raises(InvalidValue):
            search_messages(db, actor=CONSOLE, filters=LogFilters(**{field: "x" * 1000}))
    portal = PortalClient(app.test_client())
    assert portal.login(world.admin).status_code == 302
    response = portal.get("/messages/?sender=a%00b")
    assert response.status_code == 422 and "Invalid value" in text_of(response)


HOSTILE_MOMENTS = [
    "yesterday", "2026-13-01", "2026-12-06T25:00", "2026-12-06T17:00:00 99:99", "-1", "1e10", "0x10", "١٧٦٥٠٤٠٠٠٠",
    "٢٠٢٦-١٢-٠٦", "123456789012", "2026-12-06T17:00:00+24:00", "2026-12-06\x00", "9" * 300,
]


def test_hostile_moments_and_limits_are_422_and_extreme_ones_no_500(app: Flask, db: Database, world: World, beta_message: str) -> None:
    api, token = app.test_client(), bearer(db, world.admin, read_only=True)
    for moment in HOSTILE_MOMENTS:
        for field in ("since", "until"):
            response = api.get(f"/api/v1/messages?{field}={quote(moment)}", headers=token)
            assert response.status_code == 422 and field in response.json["error"]["fields"], (field, moment)
    for limit in ("²", "٣", "1.5", "1e2", "+1"):  # str.isdigit() says yes to the first two; int() refuses them
        assert api.get(f"/api/v1/messages?limit={quote(limit)}", headers=token).status_code == 422, limit
    for moment in ("9999-12-31", "9999-12-31T23:59:59.999999-23:59", "0001-01-01T00:00:00+23:59", "99999999999"):
        for field in ("since", "until"):
            assert api.get(f"/api/v1/messages?{field}={quote(moment)}", headers=token).status_code == 200, (field, moment)
    portal = PortalClient(app.test_client())
    assert portal.login(world.admin).status_code == 302
    assert portal.get("/messages/?until=9999-12-31").status_code == 200
