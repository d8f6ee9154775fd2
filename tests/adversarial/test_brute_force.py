"""Password guessing against SMTP AUTH, POP3 and the portal login, which share one lockout in
the database: failures from one address to one account, whatever the service and whichever
server process took them, lock that address out of that account, the right password included,
and the refusal reads as a wrong password. A guesser never locks the owner out of their own
devices, nor anyone else's account; forged X-Forwarded-For buys no fresh count; app passwords
work only on their own protocols and stop at once when revoked or expired."""

from __future__ import annotations

import dataclasses
from base64 import b64encode
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask
from integration.admin.support import PortalClient
from integration.pop3.support import ALICE, ALICE_PW, BOB, BOB_PW, RawClient, RunningServer, client_context
from integration.smtp.support import RawSmtp, RunningSmtp
from integration.smtp.support import client_context as smtp_client_context
from sqlalchemy import update

from services.admin import create_app
from shared.accounts import app_passwords
from shared.accounts.views import CONSOLE
from shared.storage.db import Database
from shared.storage.models import AppPassword

from .conftest import Hosted, StartPop3, StartSmtp

LIMIT = 4
STRICT = {"login_max_failures": LIMIT, "login_lockout": 600.0}
GUESSER, OWNER, ELSEWHERE = "127.0.0.2", "127.0.0.20", "127.0.0.30"
SMTP_REFUSED = b"535 5.7.8 Authentication credentials invalid\r\n"
POP3_REFUSED = b"-ERR [AUTH] authentication failed\r\n"


def smtp_auth(smtp: RunningSmtp, source_ip: str, user: str, password: str) -> bytes:
    """One AUTH PLAIN on a fresh submission session from `source_ip`."""
    client = RawSmtp(smtp.submission, source_ip=source_ip)
    client.command(b"EHLO guess.test")
    client.starttls(smtp_client_context(smtp.settings))
    client.command(b"EHLO guess.test")
    reply = client.command(b"AUTH PLAIN " + b64encode(f"\0{user}\0{password}".encode()))
    client.close()
    return reply


def pop3_login(pop3: RunningServer, source_ip: str, user: str, password: str) -> bytes:
    client = RawClient(pop3.tls_port, client_context(pop3.settings), source_ip=source_ip)
    client.command(f"USER {user}".encode())
    reply = client.command(f"PASS {password}".encode())
    client.command(b"QUIT")
    client.close()
    return reply


def browser(app: Flask, address: str) -> PortalClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return PortalClient(client)


def portal_login(app: Flask, address: str, user: str, password: str, **headers: str) -> int:
    client = browser(app, address)
    form = {"csrf_token": client.csrf_token(), "address": user, "password": password}
    return client.client.post("/login", data=form, headers=headers).status_code


@pytest.fixture
def services(start_smtp: StartSmtp, start_pop3: StartPop3, db: Database) -> tuple[RunningSmtp, RunningSmtp, RunningServer, Flask]:
    """Two SMTP servers (each with its own database connections, as two processes or replicas
    have), a POP3 server and the portal, all on one database."""
    portal = create_app(dataclasses.replace(db.settings, **STRICT), database=Database(dataclasses.replace(db.settings, **STRICT)))  # type: ignore[arg-type]
    return start_smtp(**STRICT), start_smtp(**STRICT), start_pop3(**STRICT), portal


def test_alternating_protocols_and_processes_does_not_reset_the_count(
    services: tuple[RunningSmtp, RunningSmtp, RunningServer, Flask], hosted: Hosted
) -> None:
    first, second, pop3, portal = services
    assert smtp_auth(first, GUESSER, ALICE, "guess-1") == SMTP_REFUSED
    assert pop3_login(pop3, GUESSER, ALICE, "guess-2") == POP3_REFUSED
    assert portal_login(portal, GUESSER, ALICE, "guess-3") == 422
    assert smtp_auth(second, GUESSER, ALICE, "guess-4") == SMTP_REFUSED
    # Locked now, everywhere, and answered exactly as a wrong password.
    assert smtp_auth(first, GUESSER, ALICE, ALICE_PW) == SMTP_REFUSED
    assert smtp_auth(second, GUESSER, ALICE, ALICE_PW) == SMTP_REFUSED
    assert pop3_login(pop3, GUESSER, ALICE, ALICE_PW) == POP3_REFUSED
    assert portal_login(portal, GUESSER, ALICE, ALICE_PW) == 422


def test_the_victims_known_address_still_gets_in(
    services: tuple[RunningSmtp, RunningSmtp, RunningServer, Flask], hosted: Hosted
) -> None:
    first, second, pop3, portal = services
    assert pop3_login(pop3, OWNER, ALICE, ALICE_PW).startswith(b"+OK")  # the owner's phone
    for n in range(3 * LIMIT):
        smtp_auth((first, second)[n % 2], GUESSER, ALICE, f"guess-{n}")
    assert smtp_auth(first, OWNER, ALICE, ALICE_PW).startswith(b"235 2.7.0")
    assert pop3_login(pop3, OWNER, ALICE, ALICE_PW).startswith(b"+OK")
    assert portal_login(portal, OWNER, ALICE, ALICE_PW) == 302
    assert smtp_auth(second, ELSEWHERE, ALICE, ALICE_PW).startswith(b"235 2.7.0")  # a new device too
    assert smtp_auth(second, GUESSER, BOB, BOB_PW).startswith(b"235 2.7.0")  # a bystander account
    assert smtp_auth(second, GUESSER, ALICE, ALICE_PW) == SMTP_REFUSED


def test_forged_forwarded_for_does_not_reset_the_count(
    services: tuple[RunningSmtp, RunningSmtp, RunningServer, Flask], hosted: Hosted
) -> None:
    """Without a configured proxy (BEACONMAIL_PROXY_HOPS=0) X-Forwarded-For is not believed,
    so a guesser cannot pose as a new address for each try."""
    *_servers, portal = services
    for n in range(LIMIT):
        assert portal_login(portal, GUESSER, BOB, "guess", **{"X-Forwarded-For": f"198.51.100.{n}"}) == 422
    assert portal_login(portal, GUESSER, BOB, BOB_PW, **{"X-Forwarded-For": "198.51.100.99"}) == 422


def test_an_app_password_on_the_wrong_protocol_or_after_revoke_or_expiry(
    services: tuple[RunningSmtp, RunningSmtp, RunningServer, Flask], hosted: Hosted, db: Database
) -> None:
    first, _second, pop3, portal = services
    smtp_only = app_passwords.create_app_password(db, ALICE, name="mailer", protocols=["smtp"], actor=CONSOLE).password
    assert smtp_auth(first, OWNER, ALICE, smtp_only).startswith(b"235 2.7.0")
    assert pop3_login(pop3, OWNER, ALICE, smtp_only) == POP3_REFUSED
    assert portal_login(portal, OWNER, ALICE, smtp_only) == 422
    assert smtp_auth(first, OWNER, BOB, smtp_only) == SMTP_REFUSED  # alice's, not bob's
    revoked = app_passwords.create_app_password(db, ALICE, name="old phone", actor=CONSOLE)
    assert pop3_login(pop3, OWNER, ALICE, revoked.password).startswith(b"+OK")
    app_passwords.revoke_app_password(db, ALICE, revoked.app_password.id, actor=CONSOLE)
    assert pop3_login(pop3, OWNER, ALICE, revoked.password) == POP3_REFUSED
    expiring = app_passwords.create_app_password(db, ALICE, name="tablet", expires_days=1, actor=CONSOLE)
    assert smtp_auth(first, OWNER, ALICE, expiring.password).startswith(b"235 2.7.0")
    with db.session.begin() as s:
        s.execute(update(AppPassword).where(AppPassword.id == expiring.app_password.id)
                  .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert smtp_auth(first, OWNER, ALICE, expiring.password) == SMTP_REFUSED


def test_guessing_app_passwords_by_prefix_counts_as_failures(
    services: tuple[RunningSmtp, RunningSmtp, RunningServer, Flask], hosted: Hosted, db: Database
) -> None:
    """A guess in an app password's shape, with a real prefix, is a failure like any other."""
    real = app_passwords.create_app_password(db, ALICE, name="phone", actor=CONSOLE).password
    first, _second, pop3, _portal = services
    for n in range(LIMIT):
        guess = real[:9] + str(n + 2) * 24
        assert smtp_auth(first, GUESSER, ALICE, guess) == SMTP_REFUSED
    assert smtp_auth(first, GUESSER, ALICE, real) == SMTP_REFUSED
    assert pop3_login(pop3, OWNER, ALICE, real).startswith(b"+OK")
