"""The guard rails under attack: removals posted straight to the server without the confirm
step (as a script or a forged page would, with a valid CSRF token), and mail forwarded out of a
domain that forbids it through every door a user or token has (the API, the account page,
address spellings, an alias domain, an SRS address, a hosted address that is not there).

Each test fails without its guard: without the server's check the removal goes through, and
without the forwarding rule the outside address is saved and used by routing."""
from __future__ import annotations

import html

import pytest
from flask import Flask
from integration.admin.support import PASSWORD, PortalClient, World, bearer, text_of

from services.admin import create_app
from shared import accounts
from shared.accounts import tokens
from shared.accounts.forwarding import get_forwarding, set_forwarding
from shared.accounts.passwords import hash_password
from shared.accounts.views import CONSOLE
from shared.errors import InvalidAddress
from shared.mail import srs
from shared.mail.routing import resolve_recipient
from shared.storage.db import Database


@pytest.fixture
def world(db: Database) -> World:
    """alpha.example (root: global admin, boss: its manager, staff) with an alias, a group and
    the alias domain alias-alpha.example; beta.example (someone)."""
    people = World()
    for domain in (people.alpha, people.beta):
        accounts.create_domain(db, domain, actor=CONSOLE)
    accounts.add_alias_domain(db, "alias-alpha.example", people.alpha, actor=CONSOLE)
    stored = hash_password(PASSWORD)
    for address in (people.admin, people.manager, people.staff, people.other):
        accounts.create_mailbox(db, address, stored, password_is_hash=True, actor=CONSOLE)
    accounts.grant_role(db, people.admin, global_admin=True, actor=CONSOLE)
    accounts.grant_role(db, people.manager, domain=people.alpha, actor=CONSOLE)
    accounts.create_alias(db, "info@alpha.example", [people.staff], actor=CONSOLE)
    accounts.create_group(db, "team@alpha.example", [people.staff], actor=CONSOLE)
    return people


@pytest.fixture
def app(db: Database) -> Flask:
    return create_app(db.settings, database=db)


def signed_in(app: Flask, address: str) -> PortalClient:
    client = PortalClient(app.test_client())
    assert client.login(address).status_code == 302
    return client


# -- removals without the confirm step ------------------------------------------------------------

UNCONFIRMED = [
    {},  # the field left out, as a one-click form or a script would post
    {"confirmation": ""},
    {"confirmation": " "},
    {"confirmation": "yes"},
    {"confirmation": "info@alpha.example\x00"},
    {"confirmation": "team@beta.example"},  # another object's name
    {"confirmation": ["nobody", "info@alpha.example"]},  # a second value after a wrong one
]


@pytest.mark.parametrize("data", UNCONFIRMED)
def test_a_removal_posted_without_its_confirmation_removes_nothing(app: Flask, db: Database, world: World, data: dict[str, object]) -> None:
    token = tokens.create_token(db, world.manager, name="info@alpha.example", actor=CONSOLE).token.id
    manager = signed_in(app, world.manager)
    for url in ("/aliases/info@alpha.example/remove", "/groups/team@alpha.example/remove", f"/tokens/{token}/revoke"):
        response = manager.post(url, data, token_page="/")
        assert response.status_code == 422, (url, data)
        assert "does not match" in text_of(response) or "This field is required." in text_of(response)
    assert [a.source for a in accounts.list_aliases(db, actor=CONSOLE)] == ["info@alpha.example"]
    assert [g.address for g in accounts.list_groups(db, actor=CONSOLE)] == ["team@alpha.example"]
    assert [t.id for t in tokens.list_tokens(db, actor=CONSOLE)] == [token]
    assert [e.action for e in accounts.list_audit(db, actor=CONSOLE) if e.action.endswith((".remove", ".revoke"))] == []


def test_the_confirm_page_is_no_way_into_another_domain(app: Flask, db: Database, world: World) -> None:
    accounts.create_alias(db, "info@beta.example", [world.other], actor=CONSOLE)
    token = tokens.create_token(db, world.admin, name="root's", actor=CONSOLE).token.id
    manager = signed_in(app, world.manager)
    for url, name in (("/aliases/info@beta.example/remove", "info@beta.example"), (f"/tokens/{token}/revoke", "root's")):
        assert manager.get(url).status_code == 404
        assert manager.post(url, {"confirmation": name}, token_page="/").status_code == 404
    assert len(accounts.list_aliases(db, "beta.example", actor=CONSOLE)) == 1 and len(tokens.list_tokens(db, actor=CONSOLE)) == 1


# -- forwarding out of a domain that forbids it ---------------------------------------------------

OUTSIDE = [
    "me@remote.example",
    "ME@REMOTE.EXAMPLE",
    " me@remote.example ",
    "me@remote.example.",
    "me@bücher.example",
    "me@xn--bcher-kva.example",
    "me@alpha.example.remote.example",
    "me@alpha-example",
    '"me@alpha.example"@remote.example',
]


@pytest.fixture
def forbidden(db: Database, world: World) -> World:
    accounts.update_domain(db, world.alpha, forbid_external_forwarding=True, actor=CONSOLE)
    return world


@pytest.mark.parametrize("destination", OUTSIDE)
def test_forwarding_out_through_the_api_is_refused(app: Flask, db: Database, forbidden: World, destination: str) -> None:
    for owner in (forbidden.manager, forbidden.admin):  # whoever's token, the domain's rule holds
        response = app.test_client().put(
            f"/api/v1/mailboxes/{forbidden.staff}/forwarding",
            json={"destinations": [forbidden.manager, destination], "keep_copy": False},
            headers=bearer(db, owner, read_only=False),
        )
        assert response.status_code == 422, (owner, destination, response.get_json())
    assert get_forwarding(db, forbidden.staff, actor=CONSOLE).destinations == ()


@pytest.mark.parametrize("destination", OUTSIDE[:4])
def test_forwarding_out_from_my_account_is_refused(app: Flask, db: Database, forbidden: World, destination: str) -> None:
    staff = signed_in(app, forbidden.staff)
    response = staff.post("/account/forwarding", {"destinations": destination, "keep_copy": ""}, token_page="/account/")
    assert response.status_code == 422
    assert "does not allow forwarding to other domains" in html.unescape(text_of(response))
    assert get_forwarding(db, forbidden.staff, actor=CONSOLE).destinations == ()


def test_hosted_doors_lead_nowhere_outside(db: Database, forbidden: World) -> None:
    """An alias domain's spelling is the domain itself; an SRS address of the domain (which
    would send mail back out to the address it wraps) and a hosted name that is not there are
    refused as unknown, so none of them carries mail out."""
    wrapped = srs.forwarding_sender(db, "me@remote.example", forbidden.alpha)
    assert wrapped.endswith("@alpha.example") and wrapped.startswith("SRS0")
    for destination in (wrapped, "ghost@alpha.example", "ghost@alias-alpha.example"):
        with pytest.raises(InvalidAddress):
            set_forwarding(db, forbidden.staff, [destination], keep_copy=False, actor=CONSOLE)
    view = set_forwarding(db, forbidden.staff, ["boss@alias-alpha.example"], keep_copy=False, actor=CONSOLE)
    assert view.destinations == (forbidden.manager,)
    assert resolve_recipient(db, forbidden.staff).forwards == ()


def test_forwards_saved_before_the_switch_carry_nothing_out(db: Database, world: World) -> None:
    set_forwarding(db, world.staff, ["me@remote.example", "me@bücher.example"], keep_copy=False, actor=CONSOLE)
    assert len(resolve_recipient(db, world.staff).forwards) == 2
    accounts.update_domain(db, world.alpha, forbid_external_forwarding=True, actor=CONSOLE)
    for address in (world.staff, "staff@alias-alpha.example", "STAFF+tag@alpha.example", "info@alpha.example", "team@alpha.example"):
        plan = resolve_recipient(db, address)
        assert plan.forwards == () and [m.address for m in plan.mailboxes] == [world.staff], address
