"""Role isolation on the pages: a manager sees only their domains (others answer 404),
cannot touch accounts with more rights, and staff only reach their own account."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from shared import accounts
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import PortalClient, World, text_of

OTHER_DOMAIN_PAGES = [
    "/domains/beta.example",
    "/domains/beta.example/dns",
    "/mailboxes/someone@beta.example/edit",
    "/mailboxes/someone@beta.example/password",
    "/mailboxes/someone@beta.example/delete",
    "/aliases/info@beta.example/edit",
    "/aliases/@beta.example/edit",
    "/groups/team@beta.example/edit",
    "/mailboxes/?domain=beta.example",
    "/aliases/?domain=beta.example",
    "/audit/?domain=beta.example",
]


@pytest.fixture
def beta_things(db: Database, world: World) -> None:
    accounts.create_alias(db, "info@beta.example", [world.other], actor=CONSOLE)
    accounts.create_alias(db, "@beta.example", [world.other], actor=CONSOLE)
    accounts.create_group(db, "team@beta.example", [world.other], actor=CONSOLE)


@pytest.mark.usefixtures("beta_things")
def test_manager_gets_404_for_another_domain(as_manager: PortalClient) -> None:
    answers = {url: as_manager.get(url).status_code for url in OTHER_DOMAIN_PAGES}
    assert answers == {url: 404 for url in OTHER_DOMAIN_PAGES}


CHANGES_TO_OTHER_DOMAIN = [
    ("/mailboxes/someone@beta.example/edit", {"name": "x", "quota": "1G", "active": "y"}),
    ("/mailboxes/someone@beta.example/password", {"password": "another-password"}),
    ("/mailboxes/someone@beta.example/delete", {"confirmation": "someone@beta.example"}),
    ("/aliases/info@beta.example/remove", {"confirmation": "info@beta.example"}),
    ("/aliases/info@beta.example/edit", {"destinations": "boss@alpha.example"}),
    ("/groups/team@beta.example/remove", {"confirmation": "team@beta.example"}),
    ("/groups/team@beta.example/edit", {"members": "boss@alpha.example", "policy": "anyone"}),
]


@pytest.mark.usefixtures("beta_things")
def test_manager_cannot_change_another_domain(as_manager: PortalClient, db: Database, world: World) -> None:
    for url, data in CHANGES_TO_OTHER_DOMAIN:
        assert as_manager.post(url, data, token_page="/").status_code == 404, url
    assert accounts.get_mailbox(db, world.other, actor=CONSOLE).name == ""
    assert accounts.get_alias(db, "info@beta.example", actor=CONSOLE).destinations == (world.other,)
    assert accounts.get_group(db, "team@beta.example", actor=CONSOLE).members == (world.other,)


def test_manager_lists_only_their_domains(as_manager: PortalClient, world: World) -> None:
    for url in ("/domains/", "/mailboxes/", "/"):
        page = text_of(as_manager.get(url))
        assert "alpha.example" in page
        assert "beta.example" not in page, url


def test_manager_cannot_gain_rights_they_lack(as_manager: PortalClient, db: Database, world: World) -> None:
    assert as_manager.get("/domains/new").status_code == 403
    assert as_manager.get("/domains/alpha.example/edit").status_code == 403
    assert as_manager.post("/domains/alpha.example/delete", {"confirmation": "alpha.example"}, token_page="/").status_code == 403
    takeover = as_manager.post(f"/mailboxes/{world.admin}/password", {"password": "taken-over-now"}, token_page="/")
    assert takeover.status_code == 403
    assert accounts.authenticate(db, world.admin, "s3cret-password", "portal", "127.0.0.1")
    promote = {"name": "", "quota": "1G", "active": "y", "smtp_enabled": "y", "is_global_admin": "y"}
    assert as_manager.post(f"/mailboxes/{world.staff}/edit", promote, token_page="/").status_code == 302
    assert not accounts.get_mailbox(db, world.staff, actor=CONSOLE).is_global_admin


def test_manager_can_make_a_colleague_manager_of_their_domain(as_manager: PortalClient, db: Database, world: World) -> None:
    data = {"name": "Staff", "quota": "1G", "active": "y", "managed_domains": "alpha.example"}
    assert as_manager.post(f"/mailboxes/{world.staff}/edit", data, token_page="/").status_code == 302
    assert accounts.get_mailbox(db, world.staff, actor=CONSOLE).managed_domains == ("alpha.example",)


def test_staff_only_reach_their_own_account(as_staff: PortalClient, world: World) -> None:
    assert as_staff.get("/").headers["Location"] == "/account/"
    for url in ("/domains/", "/mailboxes/", "/aliases/", "/groups/", "/audit/", "/tokens/", "/import/"):
        assert as_staff.get(url).status_code == 403, url
    assert as_staff.get(f"/mailboxes/{world.manager}/edit").status_code == 403
    page = text_of(as_staff.get("/account/"))
    assert world.staff in page and world.manager not in page


def test_rights_are_checked_on_every_request(
    as_manager: PortalClient, client_factory: Callable[[], PortalClient], db: Database, world: World
) -> None:
    staff = client_factory()
    staff.login(world.staff)
    assert as_manager.get("/domains/alpha.example").status_code == 200
    accounts.revoke_role(db, world.manager, domain=world.alpha, actor=CONSOLE)
    assert as_manager.get("/domains/alpha.example").status_code == 403
    accounts.update_mailbox(db, world.staff, active=False, actor=CONSOLE)
    assert staff.get("/account/").headers["Location"].startswith("/login")


def test_nobody_locks_themselves_out(as_admin: PortalClient, db: Database, world: World) -> None:
    data = {"name": "", "quota": "1G", "smtp_enabled": "y", "pop3_enabled": "y", "is_global_admin": "y"}
    page = as_admin.post(f"/mailboxes/{world.admin}/edit", data, token_page="/")
    assert page.status_code == 422
    assert "you cannot disable your own mailbox" in text_of(page)
    data["active"] = "y"
    del data["is_global_admin"]
    page = as_admin.post(f"/mailboxes/{world.admin}/edit", data, token_page="/")
    assert "you cannot remove your own global admin role" in text_of(page)
    assert accounts.get_mailbox(db, world.admin, actor=CONSOLE).is_global_admin
