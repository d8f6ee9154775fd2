"""Two-factor portal sign-in through the portal's pages: an authenticator app enrolled and
used, recovery codes, the per-domain requirement, managers removing a user's factors, and the
mail services refusing the main password of a mailbox with a factor."""
from __future__ import annotations

import re
import time
from collections.abc import Callable

import pyotp
import pytest
from flask import Flask

from shared import accounts
from shared.accounts import second_factors
from shared.accounts.views import CONSOLE
from shared.errors import AuthFailed
from shared.storage.db import Database

from .support import PASSWORD, PortalClient, World, bearer, text_of

SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')
CODES = re.compile(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>")
SECOND_STEP = "/login/second-factor"


def code_at(secret: str, steps_ahead: int = 0) -> str:
    """The app's code `steps_ahead` steps of 30 s from now (one step ahead is accepted as drift)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def enrol_totp(client: PortalClient) -> tuple[str, list[str]]:
    """Set up the app from My account; the secret and the recovery codes the page showed once."""
    page = "/account/two-factor/"
    assert client.post("/account/two-factor/totp", token_page=page).status_code == 302
    shown = text_of(client.get(page))
    assert "<svg" in shown  # the QR code, inline
    secret = SECRET.search(shown).group(1)  # type: ignore[union-attr]
    confirmed = client.post("/account/two-factor/totp/confirm", {"code": code_at(secret)}, token_page=page)
    assert confirmed.status_code == 200
    codes = CODES.findall(text_of(confirmed))
    assert len(codes) == 10 == len(set(codes))
    return secret, codes


def test_an_enrolled_app_is_asked_for_after_the_password(as_staff: PortalClient, world: World, db: Database) -> None:
    secret, _codes = enrol_totp(as_staff)
    assert "On. Recovery codes left: 10." in text_of(as_staff.get("/account/two-factor/"))
    as_staff.logout()
    step_one = as_staff.login(world.staff)
    assert step_one.status_code == 302 and step_one.headers["Location"] == SECOND_STEP
    assert as_staff.get("/account/").status_code == 302  # not signed in yet
    wrong = as_staff.post(SECOND_STEP, {"code": "000000"}, token_page=SECOND_STEP)
    assert wrong.status_code == 422 and "The code is wrong or was used already." in text_of(wrong)
    right = as_staff.post(SECOND_STEP, {"code": code_at(secret, 1)}, token_page=SECOND_STEP)
    assert right.status_code == 302
    assert world.staff in text_of(as_staff.get("/account/"))
    entries = accounts.list_audit(db, actor=CONSOLE, action="2fa.totp.enrol")
    assert [entry.target for entry in entries] == [world.staff]


def test_the_second_step_needs_the_first(client: PortalClient, world: World) -> None:
    assert client.get(SECOND_STEP).status_code == 404
    assert client.post(SECOND_STEP, {"code": "123456"}).status_code == 404


def test_a_recovery_code_signs_in_once(as_staff: PortalClient, world: World, db: Database) -> None:
    _secret, codes = enrol_totp(as_staff)
    as_staff.logout()
    as_staff.login(world.staff)
    used = as_staff.post(SECOND_STEP, {"code": codes[3].upper()}, token_page=SECOND_STEP)
    assert used.status_code == 302
    assert "Recovery codes left: 9." in text_of(as_staff.get("/account/two-factor/"))
    assert [e.target for e in accounts.list_audit(db, actor=CONSOLE, action="2fa.recovery-code.use")] == [world.staff]


def test_a_mailbox_with_a_factor_gets_no_mail_login_with_its_main_password(
    as_staff: PortalClient, world: World, db: Database
) -> None:
    assert accounts.authenticate(db, world.staff, PASSWORD, "pop3", "127.0.0.1").address == world.staff
    enrol_totp(as_staff)
    for service in ("smtp", "pop3"):
        with pytest.raises(AuthFailed):
            accounts.authenticate(db, world.staff, PASSWORD, service, "127.0.0.1")
    assert accounts.authenticate(db, world.staff, PASSWORD, "portal", "127.0.0.1").address == world.staff
    second_factors.remove_second_factors(db, world.staff, actor=CONSOLE)
    assert accounts.authenticate(db, world.staff, PASSWORD, "smtp", "127.0.0.1").address == world.staff


def test_a_manager_removes_the_factors_of_a_user_who_lost_them(
    client_factory: Callable[[], PortalClient], world: World, db: Database
) -> None:
    staff, manager = client_factory(), client_factory()
    staff.login(world.staff)
    enrol_totp(staff)
    manager.login(world.manager)
    page = f"/mailboxes/{world.staff}/edit"
    assert "Remove second factors" in text_of(manager.get(page))
    removed = manager.post(f"/mailboxes/{world.staff}/second-factors/remove", token_page=page)
    assert removed.status_code == 302
    assert not second_factors.list_second_factors(db, world.staff, actor=CONSOLE).any
    assert [e.actor for e in accounts.list_audit(db, actor=CONSOLE, action="2fa.reset")] == [world.manager]


def test_a_required_factor_is_set_up_before_any_other_page(client: PortalClient, world: World, db: Database) -> None:
    accounts.update_domain(db, world.alpha, require_2fa=True, actor=CONSOLE)
    assert client.login(world.staff).status_code == 302
    for page in ("/", "/account/", "/junk/", "/mailboxes/", "/account/out-of-office"):
        response = client.get(page)
        assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor/", page
    assert "Your domain requires a second factor." in text_of(client.get("/account/two-factor/"))
    enrol_totp(client)
    assert client.get("/account/").status_code == 200


def test_the_domain_page_switches_the_requirement(as_admin: PortalClient, world: World, db: Database) -> None:
    page = f"/domains/{world.beta}/edit"
    form = {"active": "y", "require_2fa": "y", "max_mailboxes": 0, "max_aliases": 0, "quota": "0", "default_mailbox_quota": "0"}
    assert as_admin.post(page, form, token_page=page).status_code == 302
    assert accounts.get_domain(db, world.beta, actor=CONSOLE).require_2fa is True
    assert '<dd id="domain-require-2fa">Required</dd>' in text_of(as_admin.get(f"/domains/{world.beta}"))


def test_the_api_reads_and_sets_the_requirement(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.admin, read_only=False)
    created = api.post("/api/v1/domains", json={"name": "strict.example", "require_2fa": True}, headers=auth)
    assert created.status_code == 201 and created.get_json()["require_2fa"] is True
    assert api.get(f"/api/v1/domains/{world.alpha}", headers=auth).get_json()["require_2fa"] is False
    changed = api.patch(f"/api/v1/domains/{world.alpha}", json={"require_2fa": True}, headers=auth)
    assert changed.status_code == 200 and changed.get_json()["require_2fa"] is True
    assert accounts.get_domain(db, world.alpha, actor=CONSOLE).require_2fa is True
    wrong = api.patch(f"/api/v1/domains/{world.alpha}", json={"require_2fa": "yes"}, headers=auth)
    assert wrong.status_code == 422 and "require_2fa" in wrong.get_json()["error"]["fields"]
    manager = bearer(db, world.manager, read_only=False)
    assert api.patch(f"/api/v1/domains/{world.alpha}", json={"require_2fa": False}, headers=manager).status_code == 403
