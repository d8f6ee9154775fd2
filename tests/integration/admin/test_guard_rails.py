"""The portal's and the API's guard rails: removing an alias or a group and revoking a token
take a confirm step; destinations in hosted domains must exist; limits cannot drop below what
a domain holds; a domain may keep its mailboxes' forwarding within hosted domains."""
from __future__ import annotations

import html

import pytest
from flask import Flask

from shared import accounts
from shared.accounts import tokens
from shared.accounts.forwarding import get_forwarding, set_forwarding
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import PortalClient, World, bearer, text_of

LIMITS = {"max_mailboxes": "0", "max_aliases": "0", "quota": "0", "default_mailbox_quota": "0"}


@pytest.fixture
def removable(db: Database, world: World) -> int:
    """An alias and a group of alpha.example, and a token of the manager (its id)."""
    accounts.create_alias(db, "info@alpha.example", [world.staff], actor=CONSOLE)
    accounts.create_group(db, "team@alpha.example", [world.staff, world.manager], actor=CONSOLE)
    return tokens.create_token(db, world.manager, name="backup script", actor=CONSOLE).token.id


def page_of(client: PortalClient, url: str, data: dict[str, str] | None = None) -> tuple[int, str]:
    response = client.post(url, data, token_page="/") if data is not None else client.get(url)
    return response.status_code, html.unescape(text_of(response))


def test_the_lists_link_to_a_confirm_step(as_manager: PortalClient, removable: int) -> None:
    assert 'href="/aliases/info@alpha.example/remove"' in text_of(as_manager.get("/aliases/"))
    assert 'href="/groups/team@alpha.example/remove"' in text_of(as_manager.get("/groups/"))
    assert f'href="/tokens/{removable}/revoke"' in text_of(as_manager.get("/tokens/"))
    status, page = page_of(as_manager, "/aliases/info@alpha.example/remove")
    assert status == 200 and "Remove info@alpha.example" in page and "no longer delivered to: staff@alpha.example" in page
    status, page = page_of(as_manager, "/groups/team@alpha.example/remove")
    assert status == 200 and "Its 2 members no longer get mail sent to team@alpha.example." in page
    status, page = page_of(as_manager, f"/tokens/{removable}/revoke")
    assert status == 200 and "Revoke the token backup script" in page and 'placeholder="backup script"' in page


@pytest.mark.parametrize(
    ("url", "name"),
    [("/aliases/info@alpha.example/remove", "info@alpha.example"), ("/groups/team@alpha.example/remove", "team@alpha.example")],
)
def test_alias_and_group_are_removed_only_with_their_name(
    as_manager: PortalClient, db: Database, removable: int, url: str, name: str
) -> None:
    for typed in ("", "someone@alpha.example"):
        status, page = page_of(as_manager, url, {"confirmation": typed})
        assert status == 422 and ("The name you typed does not match." in page or "This field is required." in page)
    assert len(accounts.list_aliases(db, actor=CONSOLE)) == 1 and len(accounts.list_groups(db, actor=CONSOLE)) == 1
    removed = as_manager.post(url, {"confirmation": f" {name.upper()} "}, token_page="/")
    assert removed.status_code == 302
    assert name not in [a.source for a in accounts.list_aliases(db, actor=CONSOLE)]
    assert name not in [g.address for g in accounts.list_groups(db, actor=CONSOLE)]
    assert f"{name} removed." in text_of(as_manager.get(removed.headers["Location"]))


def test_a_token_is_revoked_only_with_its_name(as_manager: PortalClient, db: Database, removable: int) -> None:
    status, page = page_of(as_manager, f"/tokens/{removable}/revoke", {"confirmation": "another script"})
    assert status == 422 and "The name you typed does not match." in page
    assert [t.id for t in tokens.list_tokens(db, actor=CONSOLE)] == [removable]
    assert as_manager.post(f"/tokens/{removable}/revoke", {"confirmation": "backup script"}, token_page="/").status_code == 302
    assert tokens.list_tokens(db, actor=CONSOLE) == []
    assert as_manager.get(f"/tokens/{removable}/revoke").status_code == 404


def test_destinations_that_do_not_exist_are_form_errors(as_manager: PortalClient, db: Database, world: World) -> None:
    alias = {"local": "sales", "domain": world.alpha, "destinations": "nobody@alpha.example"}
    status, page = page_of(as_manager, "/aliases/new", alias)
    assert status == 422 and "Invalid address: no mailbox, alias or group at nobody@alpha.example" in page
    group = {"local": "crew", "domain": world.alpha, "members": f"{world.staff}\nghost@alpha.example", "policy": "anyone"}
    status, page = page_of(as_manager, "/groups/new", group)
    assert status == 422 and "no mailbox, alias or group at ghost@alpha.example" in page
    assert accounts.list_aliases(db, actor=CONSOLE) == [] and accounts.list_groups(db, actor=CONSOLE) == []
    alias["destinations"] = "partner@remote.example"
    assert as_manager.post("/aliases/new", alias, token_page="/").status_code == 302


def test_destinations_that_do_not_exist_are_422_in_the_api(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.manager, read_only=False)
    refused = api.post("/api/v1/aliases", json={"source": "sales@alpha.example", "destinations": ["nobody@alpha.example"]}, headers=auth)
    assert refused.status_code == 422
    assert refused.get_json()["error"] == {"code": "invalid_address", "message": "no mailbox, alias or group at nobody@alpha.example"}
    body = {"address": "crew@alpha.example", "members": ["ghost@beta.example"]}
    assert api.post("/api/v1/groups", json=body, headers=auth).status_code == 422
    forward = {"destinations": ["ghost@alpha.example"]}
    assert api.put(f"/api/v1/mailboxes/{world.staff}/forwarding", json=forward, headers=auth).status_code == 422
    assert accounts.list_aliases(db, actor=CONSOLE) == [] and accounts.list_groups(db, actor=CONSOLE) == []


def test_a_limit_below_what_a_domain_holds_is_refused_with_the_count(app: Flask, as_admin: PortalClient, db: Database, world: World) -> None:
    status, page = page_of(as_admin, f"/domains/{world.alpha}/edit", {**LIMITS, "active": "y", "max_mailboxes": "2"})
    assert status == 422 and "alpha.example holds 3 mailboxes; the limit cannot be 2" in page
    api, auth = app.test_client(), bearer(db, world.admin, read_only=False)
    accounts.create_alias(db, "info@alpha.example", [world.staff], actor=CONSOLE)
    accounts.create_group(db, "team@alpha.example", [world.staff], actor=CONSOLE)
    refused = api.patch(f"/api/v1/domains/{world.alpha}", json={"max_aliases": 1}, headers=auth)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["message"] == "alpha.example holds 2 aliases and groups; the limit cannot be 1"
    domain = accounts.get_domain(db, world.alpha, actor=CONSOLE)
    assert (domain.max_mailboxes, domain.max_aliases) == (100, 0)
    assert api.patch(f"/api/v1/domains/{world.alpha}", json={"max_aliases": 2}, headers=auth).get_json()["max_aliases"] == 2


def test_the_forwarding_switch_in_the_portal(as_admin: PortalClient, client_factory, db: Database, world: World) -> None:  # type: ignore[no-untyped-def]
    assert "to any domain" in text_of(as_admin.get(f"/domains/{world.alpha}"))
    edit = {**LIMITS, "max_mailboxes": "100", "quota": "10G", "active": "y", "forbid_external_forwarding": "y"}
    assert as_admin.post(f"/domains/{world.alpha}/edit", edit, token_page="/").status_code == 302
    assert accounts.get_domain(db, world.alpha, actor=CONSOLE).forbid_external_forwarding is True
    assert "only to domains hosted here" in text_of(as_admin.get(f"/domains/{world.alpha}"))
    checkbox = '<input checked id="forbid_external_forwarding" name="forbid_external_forwarding" type="checkbox" value="y">'
    assert checkbox in text_of(as_admin.get(f"/domains/{world.alpha}/edit"))
    staff = client_factory()
    staff.login(world.staff)
    status, page = page_of(staff, "/account/forwarding", {"destinations": "me@remote.example", "keep_copy": "y"})
    assert status == 422 and "alpha.example does not allow forwarding to other domains: me@remote.example" in page
    assert get_forwarding(db, world.staff, actor=CONSOLE).destinations == ()
    assert staff.post("/account/forwarding", {"destinations": world.other}, token_page="/account/").status_code == 302


def test_the_forwarding_switch_in_the_api(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.admin, read_only=False)
    set_forwarding(db, world.staff, ["old@remote.example"], keep_copy=False, actor=CONSOLE)
    assert api.get(f"/api/v1/domains/{world.alpha}", headers=auth).get_json()["forbid_external_forwarding"] is False
    switched = api.patch(f"/api/v1/domains/{world.alpha}", json={"forbid_external_forwarding": True}, headers=auth)
    assert switched.status_code == 200 and switched.get_json()["forbid_external_forwarding"] is True
    refused = api.put(f"/api/v1/mailboxes/{world.staff}/forwarding", json={"destinations": ["new@remote.example"]}, headers=auth)
    assert refused.status_code == 422 and "does not allow forwarding to other domains" in refused.get_json()["error"]["message"]
    assert get_forwarding(db, world.staff, actor=CONSOLE).destinations == ("old@remote.example",)
    bad = api.patch(f"/api/v1/domains/{world.alpha}", json={"forbid_external_forwarding": "yes"}, headers=auth)
    assert bad.status_code == 422
