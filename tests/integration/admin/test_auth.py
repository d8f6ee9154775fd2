"""Signing in and out: messages, cookie flags, session rotation, throttling, redirects."""
from __future__ import annotations

import dataclasses

from flask import Flask

from services.admin import create_app
from shared import accounts
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.storage.db import Database

from .support import PASSWORD, PortalClient, World, text_of


def session_cookie(response) -> str:  # type: ignore[no-untyped-def]
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("beaconmail_session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_sign_in_and_out(client: PortalClient, world: World) -> None:
    assert client.get("/").status_code == 302
    assert client.get("/login").headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in client.get("/login").headers["Content-Security-Policy"]
    signed_in = client.login(world.admin)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    cookie = session_cookie(signed_in)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert world.admin in text_of(client.get("/"))
    assert client.get("/").headers["Cache-Control"] == "no-store"
    assert client.get("/logout").status_code == 405
    signed_out = client.logout()
    assert signed_out.status_code == 302 and signed_out.headers["Location"] == "/login"
    assert "You are signed out." in text_of(client.get("/login"))
    assert client.get("/").headers["Location"].startswith("/login")


def test_refused_sign_ins_explain_themselves(client: PortalClient, world: World, db: Database) -> None:
    empty = client.post("/login", {"address": "", "password": ""})
    assert empty.status_code == 422 and text_of(empty).count("This field is required.") == 2
    accounts.update_mailbox(db, world.staff, active=False, actor=CONSOLE)
    assert "This account or its domain is disabled." in text_of(client.login(world.staff))
    wrong = client.login(world.admin, "not-the-password")
    unknown = client.login("nobody@alpha.example", "not-the-password")
    assert wrong.status_code == unknown.status_code == 422
    assert "Wrong address or password." in text_of(wrong)
    assert "Wrong address or password." in text_of(unknown)
    assert "Wrong address or password." in text_of(client.login(world.staff, "wrong-password"))


def proxied_login(client: PortalClient, address: str):  # type: ignore[no-untyped-def]
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "Referer": "https://localhost/login"}
    form = {"csrf_token": client.csrf_token(), "address": address, "password": PASSWORD}
    return client.client.post("/login", data=form, headers=headers)


def test_cookie_is_secure_behind_a_configured_tls_proxy_only(
    client: PortalClient, proxied_client: PortalClient, world: World
) -> None:
    behind_proxy = proxied_login(proxied_client, world.admin)
    assert "Secure" in session_cookie(behind_proxy) and "HttpOnly" in session_cookie(behind_proxy)
    assert behind_proxy.headers["Strict-Transport-Security"].startswith("max-age=")
    spoofed = proxied_login(client, world.admin)
    assert "Secure" not in session_cookie(spoofed)
    assert "Strict-Transport-Security" not in spoofed.headers


def test_sign_in_starts_a_new_session(client: PortalClient, world: World) -> None:
    with client.client.session_transaction() as planted:
        planted["planted"] = "by an attacker"
    before = client.csrf_token()
    client.login(world.admin)
    with client.client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == world.admin
    assert client.csrf_token("/") != before


def test_next_only_follows_local_paths(client: PortalClient, world: World) -> None:
    token = client.csrf_token()
    form = {"csrf_token": token, "address": world.admin, "password": PASSWORD}
    local = client.client.post("/login?next=/domains/", data=form)
    assert local.headers["Location"] == "/domains/"
    client.logout()
    form["csrf_token"] = client.csrf_token()
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.client.post(f"/login?next={target}", data=form)
        assert response.headers["Location"] == "/", target
        client.logout()
        form["csrf_token"] = client.csrf_token()


def test_repeated_failures_lock_the_client_out(settings: Settings, db: Database, world: World) -> None:
    strict = dataclasses.replace(settings, login_max_failures=2, login_lockout=600.0)
    app: Flask = create_app(strict, database=Database(strict))
    client = PortalClient(app.test_client())
    wrong = client.login(world.admin, "wrong-1")
    assert wrong.status_code == 422
    assert client.login(world.admin, "wrong-2").status_code == 422
    locked = client.login(world.admin)
    assert locked.status_code == 422  # read as a wrong password: the lock is not told
    assert "Wrong address or password." in text_of(locked)
    with client.client.session_transaction() as session:
        assert "_user_id" not in session
