"""What people type comes back in error messages: as a parameter of a message id, never as part
of the template. Format directives, quotes, markup, control characters and lines in a domain
or an address are echoed escaped, on one line, in English (CLI, API) and in Chinese (portal,
API with Accept-Language), and never break the translation at the edge."""
from __future__ import annotations

import pytest
from flask import Flask
from integration.admin.support import PortalClient, World, bearer, text_of

from services.admin import create_app
from shared import accounts
from shared.accounts.views import CONSOLE
from shared.errors import InvalidAddress
from shared.mail.addresses import normalise_domain
from shared.storage.db import Database

HOSTILE = [
    "%(domain)s%(label)r%s%d%%.example",
    "-%(x)s.example",
    "exa\r\nX-Injected: 1.example",
    "<script>alert(1)</script>.example",
    "bad\x00nul.example",
    "a'\"quote.example",
    "x" * 300,
]
CHINESE = {"Accept-Language": "zh-CN"}


@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_domain_is_echoed_escaped_on_one_line(text: str) -> None:
    with pytest.raises(InvalidAddress) as refused:
        normalise_domain(text)
    message = str(refused.value)
    assert "\n" not in message and "\r" not in message and "\x00" not in message
    assert message.startswith("invalid domain: ")
    if len(text) <= 253:
        assert repr(text) in message  # the input as a parameter, whole: no directive in it was expanded


@pytest.fixture
def app(db: Database) -> Flask:
    return create_app(db.settings, database=db)


@pytest.fixture
def admin(db: Database) -> str:
    accounts.create_domain(db, World.alpha, actor=CONSOLE)
    accounts.create_mailbox(db, World.admin, "long-enough-1", actor=CONSOLE)
    accounts.grant_role(db, World.admin, global_admin=True, actor=CONSOLE)
    return World.admin


@pytest.mark.parametrize("text", HOSTILE)
def test_the_api_answers_a_hostile_domain_in_both_languages(app: Flask, db: Database, admin: str, text: str) -> None:
    auth = bearer(db, admin, read_only=False)
    for headers in ({}, CHINESE):
        answer = app.test_client().post("/api/v1/domains", json={"name": text}, headers=auth | headers)
        assert answer.status_code == 422, answer.get_data(as_text=True)
        message = answer.get_json()["error"]["message"]
        assert "\n" not in message and "\x00" not in message
        if len(text) <= 253:
            assert repr(text) in message
    assert [domain.name for domain in accounts.list_domains(db, actor=CONSOLE)] == [World.alpha]


def test_the_portal_shows_a_hostile_domain_as_text(app: Flask, db: Database, admin: str) -> None:
    client = PortalClient(app.test_client())
    client.login(admin, "long-enough-1")
    limits = {"max_mailboxes": "0", "max_aliases": "0", "quota": "0", "default_mailbox_quota": "0"}
    page = text_of(client.post("/domains/new", {**limits, "name": "<script>alert(1)</script>.example"}, token_page="/", headers=CHINESE))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page and "域名无效" in page
