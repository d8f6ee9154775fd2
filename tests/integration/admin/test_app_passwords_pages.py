"""The portal's app password pages (own and a mailbox's), the locked sign-ins page, last logins
on the mailbox list and page, and the password rule on the portal's forms."""
from __future__ import annotations

import dataclasses
import re

from flask import Flask

from services.admin import create_app
from shared import accounts
from shared.accounts import app_passwords
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.errors import AuthFailed
from shared.storage.db import Database

from .support import PASSWORD, PortalClient, World, text_of

SECRET = re.compile(r'id="new-app-password-secret">([^<]+)<')


def make(client: PortalClient, url: str, form: dict[str, object]) -> str:
    response = client.post(url, form, token_page=url)
    assert response.status_code == 200, text_of(response)
    found = SECRET.search(text_of(response))
    assert found, text_of(response)
    return found.group(1)


def test_own_app_passwords_made_shown_once_and_revoked(as_staff: PortalClient, db: Database, world: World) -> None:
    assert 'id="my-app-passwords"' in text_of(as_staff.get("/account/"))
    password = make(as_staff, "/account/app-passwords", {"name": "phone", "protocols": ["pop3"], "expires": "30"})
    assert accounts.authenticate(db, world.staff, password, "pop3", "192.0.2.8").address == world.staff
    page = text_of(as_staff.get("/account/app-passwords"))
    assert "phone" in page and "POP3" in page and password not in page and "192.0.2.8" in page
    (listed,) = app_passwords.list_app_passwords(db, world.staff, actor=CONSOLE)
    revoked = as_staff.post(f"/account/app-passwords/{listed.id}/revoke", token_page="/account/app-passwords")
    assert revoked.status_code == 302
    try:
        accounts.authenticate(db, world.staff, password, "pop3", "192.0.2.8")
        raise AssertionError("a revoked app password logged in")
    except AuthFailed:
        pass
    with_error = as_staff.post("/account/app-passwords", {"name": ""}, token_page="/account/app-passwords")
    assert with_error.status_code == 422
    assert as_staff.get("/mailboxes/staff@alpha.example/app-passwords").status_code == 403  # no manager


def test_an_app_password_never_signs_in_to_the_portal(client: PortalClient, db: Database, world: World) -> None:
    issued = app_passwords.create_app_password(db, world.staff, name="phone", actor=CONSOLE)
    response = client.login(world.staff, issued.password)
    assert response.status_code == 422 and "Wrong address or password." in text_of(response)


def test_a_manager_makes_and_revokes_a_mailboxs_app_passwords(as_manager: PortalClient, db: Database, world: World) -> None:
    assert 'id="mailbox-app-passwords"' in text_of(as_manager.get(f"/mailboxes/{world.staff}/edit"))
    url = f"/mailboxes/{world.staff}/app-passwords"
    password = make(as_manager, url, {"name": "scanner", "protocols": ["smtp"]})
    assert accounts.authenticate(db, world.staff, password, "smtp", "192.0.2.9").address == world.staff
    (listed,) = app_passwords.list_app_passwords(db, world.staff, actor=CONSOLE)
    assert as_manager.post(f"{url}/{listed.id}/revoke", token_page=url).status_code == 302
    assert app_passwords.list_app_passwords(db, world.staff, actor=CONSOLE) == []
    assert as_manager.get(f"/mailboxes/{world.other}/app-passwords").status_code == 404  # not their domain
    actions = [entry.action for entry in accounts.list_audit(db, actor=CONSOLE, text=world.staff)][:2]
    assert actions == ["app-password.revoke", "app-password.first-use"]


def test_last_logins_on_the_mailbox_list_and_page(as_admin: PortalClient, db: Database, world: World) -> None:
    accounts.authenticate(db, world.staff, PASSWORD, "smtp", "203.0.113.50")
    listing = text_of(as_admin.get("/mailboxes/?domain=alpha.example"))
    assert "SMTP, 203.0.113.50" in listing
    page = text_of(as_admin.get(f"/mailboxes/{world.staff}/edit"))
    assert 'id="last-logins"' in page and "203.0.113.50" in page


def test_locks_are_listed_and_lifted(settings: Settings, db: Database, world: World) -> None:
    strict = dataclasses.replace(settings, login_max_failures=3)
    database = Database(strict)
    app: Flask = create_app(strict, database=database)
    for _ in range(3):
        try:
            accounts.authenticate(database, world.staff, "guess", "smtp", "198.51.100.23")
        except AuthFailed:
            pass
    manager = PortalClient(app.test_client())
    manager.login(world.manager)
    page = text_of(manager.get("/locks/"))
    assert "198.51.100.23" in page and world.staff in page
    lifted = manager.post("/locks/lift", {"account": world.staff, "client_ip": "198.51.100.23"}, token_page="/locks/")
    assert lifted.status_code == 302
    after = text_of(manager.get("/locks/"))
    assert "198.51.100.23 may sign in to staff@alpha.example again." in after and "<td>198.51.100.23</td>" not in after
    assert accounts.authenticate(database, world.staff, PASSWORD, "smtp", "198.51.100.23").address == world.staff
    again = manager.post("/locks/lift", {"account": world.staff, "client_ip": "198.51.100.23"}, token_page="/locks/", follow_redirects=True)
    assert "no lock for" in text_of(again)
    staff = PortalClient(app.test_client())
    staff.login(world.staff)
    assert staff.get("/locks/").status_code == 403


def test_the_password_rule_on_the_portal_forms(settings: Settings, db: Database, world: World) -> None:
    strict = dataclasses.replace(settings, password_min_length=12)
    app: Flask = create_app(strict, database=Database(strict))
    admin = PortalClient(app.test_client())
    admin.login(world.admin)
    form = {"password": "short-pw-1", "generate_password": ""}
    refused = admin.post(f"/mailboxes/{world.staff}/password", form, token_page=f"/mailboxes/{world.staff}/password")
    assert refused.status_code == 422 and "at least 12 characters" in text_of(refused)
    created = admin.post("/mailboxes/new", {"local": "newbie", "domain": "alpha.example", "password": "eleven-char"},
                         token_page="/mailboxes/new")
    assert created.status_code == 422 and "at least 12 characters" in text_of(created)
    own = {"current_password": PASSWORD, "new_password": "abc", "repeat_password": "abc"}
    assert "at least 12 characters" in text_of(admin.post("/account/password", own, token_page="/account/"))
