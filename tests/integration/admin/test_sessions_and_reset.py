"""Portal sessions kept on the server (listed, signed out one by one or all, by a password
change, by an admin's new password) and password reset by a link mailed to the recovery address."""
from __future__ import annotations

import re
from collections.abc import Callable

from shared import accounts
from shared.accounts import portal_sessions
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .reset_mail import link_in, relaying, wait_for_mail
from .support import PASSWORD, PortalClient, World, text_of

END_SESSION = re.compile(r'action="(/account/sessions/\d+/end)"')
NEW_PASSWORD = "brand-new-password-7"
RECOVERY = "me@elsewhere.example"


def test_my_account_lists_the_sessions_and_signs_one_out(
    client_factory: Callable[[], PortalClient], world: World, db: Database
) -> None:
    laptop, phone = client_factory(), client_factory()
    laptop.login(world.staff)
    phone.client.environ_base["HTTP_USER_AGENT"] = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.0 Mobile/15E148 Safari/604.1"
    )
    phone.login(world.staff)
    page = text_of(laptop.get("/account/"))
    assert "iPhone / iOS 17.0 / Mobile Safari 17.0" in page and "This browser" in page
    [other] = END_SESSION.findall(page)  # the laptop's own row has no button
    assert laptop.post(other, token_page="/account/").status_code == 302
    assert phone.get("/account/").status_code == 302  # signed out: back to the sign-in page
    assert laptop.get("/account/").status_code == 200
    assert [e.action for e in accounts.list_audit(db, actor=CONSOLE, action="session.end")] == ["session.end"]


def test_a_password_change_signs_out_every_other_session(
    client_factory: Callable[[], PortalClient], world: World
) -> None:
    here, there = client_factory(), client_factory()
    here.login(world.staff)
    there.login(world.staff)
    form = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}
    changed = here.post("/account/password", form, token_page="/account/")
    assert changed.status_code == 302
    assert here.get("/account/").status_code == 200
    assert there.get("/account/").status_code == 302


def test_an_admin_setting_a_password_may_sign_out_all_sessions(
    client_factory: Callable[[], PortalClient], world: World, db: Database
) -> None:
    staff, admin = client_factory(), client_factory()
    staff.login(world.staff)
    admin.login(world.admin)
    page = f"/mailboxes/{world.staff}/password"
    assert admin.post(page, {"password": NEW_PASSWORD}, token_page=page).status_code == 200
    assert staff.get("/account/").status_code == 200  # not asked to: the session stays
    assert admin.post(page, {"password": NEW_PASSWORD, "sign_out": "y"}, token_page=page).status_code == 200
    assert staff.get("/account/").status_code == 302
    assert portal_sessions.list_portal_sessions(db, world.staff, actor=CONSOLE) == []


def test_sign_out_ends_the_server_session(client: PortalClient, world: World, db: Database) -> None:
    client.login(world.staff)
    assert len(portal_sessions.list_portal_sessions(db, world.staff, actor=CONSOLE)) == 1
    client.logout()
    assert portal_sessions.list_portal_sessions(db, world.staff, actor=CONSOLE) == []


def test_the_recovery_address_lies_outside_our_domains(as_staff: PortalClient, world: World, db: Database) -> None:
    ours = as_staff.post("/account/recovery-address", {"recovery_address": world.other}, token_page="/account/")
    assert ours.status_code == 422 and "is one of our own domains" in text_of(ours)
    alias_domain = accounts.add_alias_domain(db, "alias.example", world.beta, actor=CONSOLE)
    assert alias_domain.alias_domains == ("alias.example",)
    aliased = as_staff.post("/account/recovery-address", {"recovery_address": "x@alias.example"}, token_page="/account/")
    assert aliased.status_code == 422
    bad = as_staff.post("/account/recovery-address", {"recovery_address": "not an address"}, token_page="/account/")
    assert bad.status_code == 422
    saved = as_staff.post("/account/recovery-address", {"recovery_address": RECOVERY}, token_page="/account/")
    assert saved.status_code == 302
    assert accounts.signed_in_mailbox(db, world.staff).recovery_address == RECOVERY


def test_a_mailed_link_sets_a_new_password_once_and_signs_out_everywhere(
    client_factory: Callable[[], PortalClient], world: World, db: Database
) -> None:
    signed_in, stranger = client_factory(), client_factory()
    signed_in.login(world.staff)
    signed_in.post("/account/recovery-address", {"recovery_address": RECOVERY}, token_page="/account/")
    with relaying(db) as (collector, relay_db):
        asked = stranger.post("/forgot-password", {"address": world.staff}, token_page="/forgot-password")
        assert asked.status_code == 302
        [mail] = wait_for_mail(collector, relay_db)
    assert mail.recipients == (RECOVERY,)
    link, _token = link_in(mail)
    assert link.startswith(f"http://{db.settings.hostname}:{db.settings.admin_port}/password-reset/")
    path = link.split(str(db.settings.admin_port), 1)[1]
    assert "Choose a new password" in text_of(stranger.get(path))
    done = stranger.post(path, {"new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}, token_page=path)
    assert done.status_code == 302
    assert accounts.authenticate(db, world.staff, NEW_PASSWORD, "portal", "127.0.0.1").address == world.staff
    assert signed_in.get("/account/").status_code == 302
    again = stranger.get(path)
    assert again.status_code == 404 and "This link is used up or expired." in text_of(again)
