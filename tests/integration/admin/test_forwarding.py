"""Forwarding in the portal and the API: staff set their own, managers and admins those in their scope."""
from __future__ import annotations

import html

from flask import Flask

from shared.accounts.forwarding import ForwardingView, get_forwarding, set_forwarding
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import PortalClient, World, bearer, text_of


def test_staff_sets_own_forwarding_on_the_account_page(as_staff: PortalClient, db: Database, world: World) -> None:
    page = text_of(as_staff.get("/account/"))
    assert 'id="forwarding"' in page and 'name="keep_copy" type="checkbox" value="y"' in page and "checked" in page
    data = {"destinations": f"{world.manager}\nFriend@Elsewhere.example", "keep_copy": "y"}
    assert as_staff.post("/account/forwarding", data, token_page="/account/").status_code == 302
    saved = get_forwarding(db, world.staff, actor=CONSOLE)
    assert saved == ForwardingView(world.staff, (world.manager, "friend@elsewhere.example"), True)
    page = text_of(as_staff.get("/account/"))
    assert "Your forwarding was saved." in page and "friend@elsewhere.example" in page
    assert as_staff.post("/account/forwarding", {"destinations": ""}, token_page="/account/").status_code == 302
    assert get_forwarding(db, world.staff, actor=CONSOLE) == ForwardingView(world.staff, (), False)


def test_bad_forwarding_is_explained_on_the_page(as_staff: PortalClient, db: Database, world: World) -> None:
    cases = {
        "not an address": "Invalid address",
        world.staff.upper(): "cannot forward to itself",
    }
    set_forwarding(db, world.manager, [world.staff], keep_copy=True, actor=CONSOLE)
    cases[world.manager] = "loop"
    for destinations, message in cases.items():
        response = as_staff.post("/account/forwarding", {"destinations": destinations, "keep_copy": "y"}, token_page="/account/")
        assert response.status_code == 422 and message in html.unescape(text_of(response)), destinations
    assert get_forwarding(db, world.staff, actor=CONSOLE).destinations == ()
    missing_csrf = as_staff.client.post("/account/forwarding", data={"destinations": world.manager, "keep_copy": "y"})
    assert missing_csrf.status_code in (400, 422) and get_forwarding(db, world.staff, actor=CONSOLE).destinations == ()


def test_staff_cannot_touch_another_mailbox(as_staff: PortalClient, db: Database, world: World) -> None:
    assert as_staff.get(f"/mailboxes/{world.manager}/forwarding").status_code == 403
    data = {"destinations": world.staff, "keep_copy": ""}
    assert as_staff.post(f"/mailboxes/{world.manager}/forwarding", data, token_page="/account/").status_code == 403
    assert get_forwarding(db, world.manager, actor=CONSOLE) == ForwardingView(world.manager, (), True)


def test_manager_sets_forwarding_in_their_domain_only(as_manager: PortalClient, db: Database, world: World) -> None:
    assert "Keep a copy in the mailbox" in text_of(as_manager.get(f"/mailboxes/{world.staff}/forwarding"))
    data = {"destinations": "away@elsewhere.example"}
    response = as_manager.post(f"/mailboxes/{world.staff}/forwarding", data, token_page="/")
    assert response.status_code == 302
    assert get_forwarding(db, world.staff, actor=CONSOLE) == ForwardingView(world.staff, ("away@elsewhere.example",), False)
    assert as_manager.get(f"/mailboxes/{world.other}/forwarding").status_code == 404


def test_admin_sets_forwarding_through_the_api(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.admin, read_only=False)
    url = f"/api/v1/mailboxes/{world.other}/forwarding"
    assert api.get(url, headers=auth).get_json() == {"address": world.other, "destinations": [], "keep_copy": True}
    reply = api.put(url, json={"destinations": ["Staff@Alpha.example", "x@elsewhere.example"], "keep_copy": False}, headers=auth)
    assert reply.status_code == 200
    assert reply.get_json() == {"address": world.other, "destinations": [world.staff, "x@elsewhere.example"], "keep_copy": False}
    assert get_forwarding(db, world.other, actor=CONSOLE).keep_copy is False
    refused = api.put(url, json={"destinations": [world.other]}, headers=auth)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "invalid_value"
    assert api.put(url, json={"keep_copy": True}, headers=auth).get_json()["error"]["code"] == "validation_error"
    manager = bearer(db, world.manager, read_only=False)
    assert api.get(url, headers=manager).status_code == 404
    assert api.put(url, json={"destinations": []}, headers=manager).status_code == 404
    read_only = bearer(db, world.admin)
    assert api.put(url, json={"destinations": []}, headers=read_only).status_code == 403
    assert get_forwarding(db, world.other, actor=CONSOLE).destinations == (world.staff, "x@elsewhere.example")
