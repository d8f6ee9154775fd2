"""Hostile senders typed into a domain's allow or block list, through the API (the portal and
the command line pass the same text to the same use case) and another domain's manager.

Each refused input is one the address parser alone would let through or store as a listing
that never applies: a trailing CR LF or NUL is stripped away by it, a `*` is legal in a local
part, and whitespace padding hides an overlong value."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, testing
from integration.admin.support import World, bearer

from services.admin import create_app
from shared import accounts
from shared.accounts.permissions import Scope
from shared.accounts.views import CONSOLE, Actor
from shared.errors import NotFound
from shared.mail.addresses import parse_address
from shared.mail.sender_lists import listings
from shared.storage.db import Database
from shared.storage.models import SenderListing

SENDERS = "/api/v1/domains/alpha.example/senders"


@pytest.fixture
def app(db: Database) -> Iterator[Flask]:
    for domain in (World.alpha, World.beta):
        accounts.create_domain(db, domain, actor=CONSOLE)
    accounts.create_mailbox(db, World.manager, "manager-password", actor=CONSOLE)
    accounts.grant_role(db, World.manager, domain=World.alpha, actor=CONSOLE)
    yield create_app(db.settings, database=db)


def post(api: testing.FlaskClient, db: Database, sender: str) -> tuple[int, str]:
    response = api.post(SENDERS, json={"sender": sender, "listing": "block"}, headers=bearer(db, World.manager, read_only=False))
    body = response.get_json()
    return response.status_code, body["error"]["code"] if "error" in body else body["sender"]


@pytest.mark.parametrize(
    "sender",
    [
        "spam.example\r\n",
        "spam.example\r\nX-Injected: yes",
        "x@spam.example\x00",
        "x@spam.example\n",
        "\x1b[31mx@spam.example",
        "*@spam.example",
        "x@*.spam.example",
        " " * 400 + "x@spam.example",
    ],
)
def test_a_hostile_sender_is_refused_and_nothing_is_listed(app: Flask, db: Database, sender: str) -> None:
    status, code = post(app.test_client(), db, sender)
    assert (status, code) in {(422, "invalid_address"), (422, "validation_error")}, (sender, status, code)
    assert accounts.list_senders(db, World.alpha, actor=CONSOLE) == []


def test_sql_metacharacters_are_stored_as_text_and_match_only_themselves(app: Flask, db: Database) -> None:
    api = app.test_client()
    assert post(api, db, "x'; DROP TABLE sender_rule; --@spam.example") == (422, "invalid_address")
    assert post(api, db, "o'brien@pub.example") == (201, "o'brien@pub.example")
    assert post(api, db, "%@spam.example") == (201, "%@spam.example")  # LIKE's wildcard is a legal local part
    assert post(api, db, "_@spam.example") == (201, "_@spam.example")
    alpha = accounts.get_domain(db, World.alpha, actor=CONSOLE).id
    assert listings(db, [alpha], [parse_address("bob@spam.example")]) == {}
    assert listings(db, [alpha], [parse_address("o'brien@pub.example")]) == {alpha: SenderListing.BLOCK}
    stored = [view.sender for view in accounts.list_senders(db, World.alpha, actor=CONSOLE)]
    assert stored == ["%@spam.example", "_@spam.example", "o'brien@pub.example"]


def test_another_domains_manager_cannot_read_or_change_its_lists(app: Flask, db: Database) -> None:
    accounts.block_sender(db, World.beta, "x@spam.example", actor=CONSOLE)
    intruder = Actor(Scope(World.manager, domains=frozenset({World.alpha})), "198.51.100.7")
    for attempt in (
        lambda: accounts.unlist_sender(db, World.beta, "x@spam.example", actor=intruder),
        lambda: accounts.allow_sender(db, World.beta, "x@spam.example", actor=intruder),
        lambda: accounts.list_senders(db, "BETA.example", actor=intruder),
    ):
        with pytest.raises(NotFound, match="^unknown domain: beta.example$"):
            attempt()
    api, token = app.test_client(), bearer(db, World.manager, read_only=False)
    assert api.delete("/api/v1/domains/beta.example/senders/x@spam.example", headers=token).status_code == 404
    assert api.get("/api/v1/domains/beta.example/senders", headers=token).status_code == 404
    assert [(v.sender, v.listing) for v in accounts.list_senders(db, World.beta, actor=CONSOLE)] == [("x@spam.example", "block")]
