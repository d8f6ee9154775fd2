"""IMAP (Dovecot) with app passwords and the shared lockout: the second passdb checks an app
password by its prefix, and the auth policy hook (services.imap.policy) refuses a locked out
address and reports each login back, on SQLite and PostgreSQL."""
from __future__ import annotations

import imaplib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from shared.accounts import app_passwords, authenticate, get_mailbox
from shared.accounts.views import CONSOLE
from shared.errors import AuthFailed
from shared.storage.models import AppPassword
from tests.integration.imap.conftest import ImapWorld, running_world
from tests.integration.imap.support import PASSWORD, RawClient, client_context, imap_quoted, login, within_contract

MAX_FAILURES = 3


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest) -> Iterator[ImapWorld]:
    with running_world(request, request.param, login_max_failures=MAX_FAILURES, login_lockout=600.0) as running:
        yield running


def raw_login(world: ImapWorld, source_ip: str, user: str, password: str) -> bytes:
    """LOGIN from `source_ip` (imaplib cannot choose it): Dovecot's tagged reply."""
    client = RawClient(world.settings.imaps_port, client_context(world.settings), source_ip=source_ip, timeout=30.0)
    try:
        client.send(b"a LOGIN " + imap_quoted(user) + b" " + imap_quoted(password) + b"\r\n")
        while not (reply := client.line()).startswith(b"a "):
            assert reply, "closed before the reply to LOGIN"
        return reply
    finally:
        client.close()


def test_an_app_password_logs_in_with_imaplib_and_its_use_is_noted(world: ImapWorld) -> None:
    address, _id = world.new_mailbox()
    issued = app_passwords.create_app_password(world.db, address, name="phone", protocols=["imap"], actor=CONSOLE)
    client = login(world.settings, address, issued.password)
    assert client.select("INBOX")[0] == "OK"
    client.logout()

    def noted() -> bool:  # Dovecot reports after it answered the client
        listed = app_passwords.list_app_passwords(world.db, address, actor=CONSOLE)[0]
        last = get_mailbox(world.db, address, actor=CONSOLE).last_login("imap")
        return listed.last_used_from == "127.0.0.1" and last is not None and last.client_ip == "127.0.0.1"

    assert within_contract(noted)
    login(world.settings, address, PASSWORD).logout()  # the mailbox's own password still works


def test_an_app_password_is_refused_off_its_protocols_and_once_revoked_or_expired(world: ImapWorld) -> None:
    address, _id = world.new_mailbox()
    smtp_only = app_passwords.create_app_password(world.db, address, name="mailer", protocols=["smtp"], actor=CONSOLE)
    assert raw_login(world, "127.0.3.1", address, smtp_only.password).startswith(b"a NO [AUTHENTICATIONFAILED]")
    revoked = app_passwords.create_app_password(world.db, address, name="old phone", actor=CONSOLE)
    assert raw_login(world, "127.0.3.2", address, revoked.password).startswith(b"a OK")
    app_passwords.revoke_app_password(world.db, address, revoked.app_password.id, actor=CONSOLE)
    assert raw_login(world, "127.0.3.3", address, revoked.password).startswith(b"a NO [AUTHENTICATIONFAILED]")
    expiring = app_passwords.create_app_password(world.db, address, name="tablet", expires_days=1, actor=CONSOLE)
    assert raw_login(world, "127.0.3.4", address, expiring.password).startswith(b"a OK")
    with world.db.session.begin() as s:  # a day later
        past = datetime.now(timezone.utc) - timedelta(minutes=1)
        s.execute(update(AppPassword).where(AppPassword.id == expiring.app_password.id).values(expires_at=past))
    assert raw_login(world, "127.0.3.5", address, expiring.password).startswith(b"a NO [AUTHENTICATIONFAILED]")


def test_failures_lock_that_address_out_of_imap_but_not_the_owners_device(world: ImapWorld) -> None:
    address, _id = world.new_mailbox()
    login(world.settings, address, PASSWORD).logout()  # the owner's device, 127.0.0.1
    wrong = raw_login(world, "127.0.4.1", address, "guess")
    for _ in range(MAX_FAILURES - 1):
        assert raw_login(world, "127.0.4.1", address, "guess") == wrong
    locked = raw_login(world, "127.0.4.1", address, PASSWORD)
    assert locked == wrong  # the right password, refused exactly as a wrong one
    assert raw_login(world, "127.0.4.2", address, PASSWORD).startswith(b"a OK")  # another address
    login(world.settings, address, PASSWORD).logout()


def test_failures_over_pop3_and_imap_count_together(world: ImapWorld) -> None:
    address, _id = world.new_mailbox()
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(AuthFailed):
            authenticate(world.db, address, "guess", "pop3", "127.0.5.1")
    assert raw_login(world, "127.0.5.1", address, "guess").startswith(b"a NO")
    assert raw_login(world, "127.0.5.1", address, PASSWORD).startswith(b"a NO [AUTHENTICATIONFAILED]")
    with pytest.raises(AuthFailed):
        authenticate(world.db, address, PASSWORD, "smtp", "127.0.5.1")


def test_an_imap_client_never_sees_the_lock(world: ImapWorld) -> None:
    """imaplib's view: the same error for the locked out right password as for a wrong one."""
    address, _id = world.new_mailbox()
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthFailed):
            authenticate(world.db, address, "guess", "portal", "127.0.0.1")
    with pytest.raises(imaplib.IMAP4.error) as locked:
        login(world.settings, address, PASSWORD)
    assert "AUTHENTICATIONFAILED" in str(locked.value)
