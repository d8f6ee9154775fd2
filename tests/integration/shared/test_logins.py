"""The login decision every service shares (shared.accounts.logins), on both databases: app
passwords per protocol, the lockout of an address for an account, last logins, the password
rule, and who may do what with them."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from shared.accounts import (
    Actor,
    add_alias_domain,
    create_domain,
    create_mailbox,
    get_mailbox,
    grant_role,
    list_audit,
    list_mailboxes,
    set_password,
)
from shared.accounts import app_passwords as apps
from shared.accounts.lockout import lift_lock, list_locks
from shared.accounts.logins import authenticate
from shared.accounts.mailbox_import import plan_import
from shared.accounts.permissions import Scope
from shared.accounts.views import CONSOLE
from shared.errors import AuthFailed, InvalidValue, NotFound, PermissionDenied
from shared.storage.db import Database
from shared.storage.models import AppPassword, LoginFailure

ALICE, BOB, BOSS = "alice@example.com", "bob@example.com", "boss@example.com"
PASSWORD = "alice's password"
HOME, AWAY, THIEF = "192.0.2.10", "198.51.100.7", "203.0.113.66"


@pytest.fixture
def strict(db: Database) -> Iterator[Database]:
    """The defaults of the contract: 10 failures, a 900 s lockout, 10-character passwords."""
    settings = dataclasses.replace(db.settings, login_max_failures=10, login_lockout=900.0, password_min_length=10)
    database = Database(settings)
    create_domain(database, "example.com", actor=CONSOLE)
    create_domain(database, "other.example", actor=CONSOLE)
    for address in (ALICE, BOB, BOSS, "carol@other.example"):
        create_mailbox(database, address, PASSWORD, actor=CONSOLE)
    grant_role(database, BOSS, domain="example.com", actor=CONSOLE)
    yield database
    database.dispose()


def as_user(address: str, **roles: object) -> Actor:
    return Actor(Scope(address, **roles), ip="192.0.2.99")  # type: ignore[arg-type]


def fail(db: Database, address: str, ip: str, times: int, protocol: str = "pop3") -> None:
    for _ in range(times):
        with pytest.raises(AuthFailed):
            authenticate(db, address, "a guess", protocol, ip)


# --- app passwords ------------------------------------------------------------------------


def test_an_app_password_logs_in_to_its_protocols_only_and_never_the_portal(strict: Database) -> None:
    issued = apps.create_app_password(strict, ALICE, name="phone", protocols=["smtp", "pop3"], actor=CONSOLE)
    assert apps.looks_like_app_password(issued.password) and issued.app_password.protocols == ("smtp", "pop3")
    assert authenticate(strict, ALICE, issued.password, "smtp", HOME).address == ALICE
    assert authenticate(strict, "ALICE@Example.com", issued.password, "pop3", HOME).address == ALICE
    for protocol in ("imap", "portal"):
        with pytest.raises(AuthFailed):
            authenticate(strict, ALICE, issued.password, protocol, HOME)
    with pytest.raises(AuthFailed):  # another mailbox's app password is nobody's password here
        authenticate(strict, BOB, issued.password, "smtp", HOME)
    assert authenticate(strict, ALICE, PASSWORD, "portal", HOME).address == ALICE  # the own password still works


def test_no_protocol_means_all_three_and_only_a_hash_is_kept(strict: Database) -> None:
    issued = apps.create_app_password(strict, ALICE, name="laptop", actor=CONSOLE)
    assert issued.app_password.protocols == ("smtp", "pop3", "imap")
    with strict.session.begin() as s:
        row = s.get(AppPassword, issued.app_password.id)
        assert row is not None and issued.password not in (row.secret_hash, row.prefix)
        assert row.secret_hash == apps.digest(issued.password) and row.prefix == issued.password[:8]


def test_revoked_and_expired_app_passwords_stop_at_once(strict: Database) -> None:
    revoked = apps.create_app_password(strict, ALICE, name="old", actor=CONSOLE)
    authenticate(strict, ALICE, revoked.password, "smtp", HOME)
    apps.revoke_app_password(strict, ALICE, revoked.app_password.id, actor=CONSOLE)
    with pytest.raises(AuthFailed):
        authenticate(strict, ALICE, revoked.password, "smtp", HOME)
    expiring = apps.create_app_password(strict, ALICE, name="week", expires_days=7, actor=CONSOLE)
    assert expiring.app_password.expires_at is not None
    assert timedelta(days=6) < expiring.app_password.expires_at - datetime.now(timezone.utc) <= timedelta(days=7)
    authenticate(strict, ALICE, expiring.password, "pop3", HOME)
    with strict.session.begin() as s:
        s.execute(update(AppPassword).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    with pytest.raises(AuthFailed):
        authenticate(strict, ALICE, expiring.password, "pop3", HOME)


def test_a_tampered_secret_with_a_real_prefix_fails(strict: Database) -> None:
    issued = apps.create_app_password(strict, ALICE, name="phone", actor=CONSOLE)
    forged = issued.password[:9] + ("a" if issued.password[9] != "a" else "b") + issued.password[10:]
    with pytest.raises(AuthFailed):
        authenticate(strict, ALICE, forged, "smtp", HOME)


def test_listing_shows_use_and_the_audit_log_has_create_first_use_and_revoke(strict: Database) -> None:
    issued = apps.create_app_password(strict, ALICE, name="phone", actor=CONSOLE)
    listed = apps.list_app_passwords(strict, ALICE, actor=CONSOLE)
    assert [(v.name, v.last_used_at, v.last_used_from) for v in listed] == [("phone", None, None)]
    authenticate(strict, ALICE, issued.password, "smtp", AWAY)
    authenticate(strict, ALICE, issued.password, "pop3", HOME)
    used = apps.list_app_passwords(strict, ALICE, actor=CONSOLE)[0]
    assert used.last_used_from == HOME and used.last_used_at is not None
    apps.revoke_app_password(strict, ALICE, issued.app_password.id, actor=CONSOLE)
    actions = [entry.action for entry in list_audit(strict, actor=CONSOLE, text=ALICE)]
    assert actions == ["app-password.revoke", "app-password.first-use", "app-password.create", "mailbox.create"]


def test_bad_app_password_input_is_refused(strict: Database) -> None:
    for options, message in [
        ({"name": ""}, "needs a name"),
        ({"name": "x" * 121}, "needs a name"),
        ({"name": "a\nb"}, "control characters"),
        ({"name": "ok", "protocols": ["ftp"]}, "unknown protocol 'ftp'"),
        ({"name": "ok", "expires_days": 0}, "1 to 36500 days"),
    ]:
        with pytest.raises(InvalidValue, match=message):
            apps.create_app_password(strict, ALICE, actor=CONSOLE, **options)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        apps.revoke_app_password(strict, ALICE, 999, actor=CONSOLE)
    other = apps.create_app_password(strict, BOB, name="bob's", actor=CONSOLE)
    with pytest.raises(NotFound):  # an id of another mailbox's is not this one's
        apps.revoke_app_password(strict, ALICE, other.app_password.id, actor=CONSOLE)


def test_who_may_make_list_and_revoke_app_passwords(strict: Database) -> None:
    mine = apps.create_app_password(strict, ALICE, name="own", actor=as_user(ALICE))
    assert [v.name for v in apps.list_app_passwords(strict, ALICE, actor=as_user(ALICE))] == ["own"]
    with pytest.raises((PermissionDenied, NotFound)):
        apps.create_app_password(strict, BOB, name="not mine", actor=as_user(ALICE))
    with pytest.raises((PermissionDenied, NotFound)):
        apps.list_app_passwords(strict, BOB, actor=as_user(ALICE))
    manager = as_user(BOSS, domains=frozenset({"example.com"}))
    assert apps.create_app_password(strict, BOB, name="set up by boss", actor=manager).app_password.name == "set up by boss"
    apps.revoke_app_password(strict, ALICE, mine.app_password.id, actor=manager)
    with pytest.raises((PermissionDenied, NotFound)):
        apps.create_app_password(strict, "carol@other.example", name="x", actor=manager)
    with pytest.raises(PermissionDenied):  # a read-only token changes nothing
        apps.create_app_password(strict, ALICE, name="x", actor=Actor(Scope(ALICE, read_only=True)))


# --- the lockout --------------------------------------------------------------------------


def test_ten_failures_lock_that_address_even_with_the_right_password(strict: Database) -> None:
    fail(strict, ALICE, THIEF, 9)
    assert authenticate(strict, ALICE, PASSWORD, "smtp", THIEF).address == ALICE  # 9 are not enough...
    fail(strict, ALICE, THIEF, 10)  # ...and a success started the count afresh
    with pytest.raises(AuthFailed) as locked:
        authenticate(strict, ALICE, PASSWORD, "smtp", THIEF)
    with pytest.raises(AuthFailed) as wrong:
        authenticate(strict, ALICE, "a guess", "smtp", HOME)
    assert str(locked.value) == str(wrong.value)  # a refusal reads as a wrong password
    assert authenticate(strict, BOB, PASSWORD, "smtp", THIEF).address == BOB  # only that account


def test_the_owners_known_address_still_gets_in_while_an_attacker_is_locked(strict: Database) -> None:
    authenticate(strict, ALICE, PASSWORD, "pop3", HOME)  # the owner's phone, signed in before
    fail(strict, ALICE, THIEF, 25)
    for protocol in ("portal", "smtp", "pop3"):
        assert authenticate(strict, ALICE, PASSWORD, protocol, HOME).address == ALICE
    assert authenticate(strict, ALICE, PASSWORD, "smtp", AWAY).address == ALICE  # and a new place too


def test_alternating_protocols_and_processes_counts_as_one(strict: Database) -> None:
    """Two Database objects stand for two processes; failures over every protocol add up."""
    other_process = Database(strict.settings)
    try:
        for n in range(10):
            fail(strict if n % 2 else other_process, ALICE, THIEF, 1, ("portal", "smtp", "pop3")[n % 3])
        for db in (strict, other_process):
            for protocol in ("portal", "smtp", "pop3"):
                with pytest.raises(AuthFailed):
                    authenticate(db, ALICE, PASSWORD, protocol, THIEF)
    finally:
        other_process.dispose()


def test_alias_domain_spellings_and_case_count_against_one_account(strict: Database) -> None:
    add_alias_domain(strict, "example.net", "example.com", actor=CONSOLE)
    for n, login in enumerate(["alice@example.net", "ALICE@example.com", "Alice@Example.NET"] * 4):
        if n < 10:
            fail(strict, login, THIEF, 1)
    with pytest.raises(AuthFailed):
        authenticate(strict, ALICE, PASSWORD, "pop3", THIEF)


def test_the_lock_runs_out(strict: Database) -> None:
    quick = Database(dataclasses.replace(strict.settings, login_lockout=1.0))
    try:
        fail(quick, ALICE, THIEF, 10)
        with pytest.raises(AuthFailed):
            authenticate(quick, ALICE, PASSWORD, "smtp", THIEF)
        with strict.session.begin() as s:  # 15 minutes later
            s.execute(update(LoginFailure).values(
                window_start=LoginFailure.window_start - timedelta(minutes=16),
                locked_until=datetime.now(timezone.utc) - timedelta(seconds=1),
            ))
        assert authenticate(quick, ALICE, PASSWORD, "smtp", THIEF).address == ALICE
    finally:
        quick.dispose()


def test_failures_outside_15_minutes_do_not_add_up(strict: Database) -> None:
    fail(strict, ALICE, THIEF, 9)
    with strict.session.begin() as s:
        s.execute(update(LoginFailure).values(window_start=LoginFailure.window_start - timedelta(minutes=16)))
    fail(strict, ALICE, THIEF, 1)
    assert authenticate(strict, ALICE, PASSWORD, "smtp", THIEF).address == ALICE


def test_unknown_accounts_are_counted_and_stale_rows_swept(strict: Database) -> None:
    fail(strict, "nobody@example.com", THIEF, 10)
    assert [(lock.account, lock.client_ip) for lock in list_locks(strict, actor=CONSOLE)] == [("nobody@example.com", THIEF)]
    with strict.session.begin() as s:
        s.execute(update(LoginFailure).values(
            window_start=LoginFailure.window_start - timedelta(hours=1),
            locked_until=datetime.now(timezone.utc) - timedelta(minutes=1),
        ))
    fail(strict, "someone-else@example.com", THIEF, 1)  # a new window sweeps what went stale
    with strict.session.begin() as s:
        assert s.scalar(select(func.count()).select_from(LoginFailure)) == 1


def test_locks_are_listed_by_domain_and_lifted_by_a_manager_with_audit(strict: Database) -> None:
    fail(strict, ALICE, THIEF, 10)
    fail(strict, "carol@other.example", THIEF, 10)
    manager = as_user(BOSS, domains=frozenset({"example.com"}))
    assert [lock.account for lock in list_locks(strict, actor=manager)] == [ALICE]
    assert {lock.account for lock in list_locks(strict, actor=CONSOLE)} == {ALICE, "carol@other.example"}
    lock = list_locks(strict, actor=manager)[0]
    assert lock.failures == 10 and lock.locked_until > datetime.now(timezone.utc) + timedelta(seconds=890)
    with pytest.raises(PermissionDenied):
        list_locks(strict, actor=as_user(ALICE))
    with pytest.raises(NotFound):
        lift_lock(strict, "carol@other.example", THIEF, actor=manager)
    lift_lock(strict, ALICE, THIEF, actor=manager)
    assert authenticate(strict, ALICE, PASSWORD, "smtp", THIEF).address == ALICE
    entries = [(e.action, e.actor, e.ip) for e in list_audit(strict, actor=CONSOLE, text=ALICE)][:2]
    assert entries == [("login.unlock", BOSS, "192.0.2.99"), ("login.lock", "lockout", THIEF)]


# --- last logins --------------------------------------------------------------------------


def test_the_last_login_per_protocol_with_its_address(strict: Database) -> None:
    assert get_mailbox(strict, ALICE, actor=CONSOLE).last_logins == ()
    authenticate(strict, ALICE, PASSWORD, "smtp", AWAY)
    authenticate(strict, ALICE, PASSWORD, "smtp", HOME)
    authenticate(strict, ALICE, PASSWORD, "portal", "2001:db8::1")
    view = get_mailbox(strict, ALICE, actor=CONSOLE)
    smtp, portal = view.last_login("smtp"), view.last_login("portal")
    assert smtp is not None and smtp.client_ip == HOME and portal is not None and portal.client_ip == "2001:db8::1"
    assert view.last_login("pop3") is None and view.last_login("imap") is None
    assert smtp.at.tzinfo is not None and abs(smtp.at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    listed = {m.address: m for m in list_mailboxes(strict, "example.com", actor=CONSOLE)}
    assert listed[ALICE].last_login("smtp") == smtp and listed[BOB].last_logins == ()
    fail(strict, ALICE, THIEF, 1)
    assert get_mailbox(strict, ALICE, actor=CONSOLE).last_login("smtp") == smtp  # failures are no logins


# --- the password rule --------------------------------------------------------------------


def test_every_path_that_sets_a_password_applies_the_minimum_length(strict: Database) -> None:
    with pytest.raises(InvalidValue, match="at least 10 characters"):
        create_mailbox(strict, "new@example.com", "b", actor=CONSOLE)
    with pytest.raises(InvalidValue, match="at least 10 characters"):
        set_password(strict, ALICE, "123456789", actor=CONSOLE)
    with pytest.raises(InvalidValue, match="one of the most common"):
        set_password(strict, ALICE, "1234567890", actor=CONSOLE)
    with pytest.raises(InvalidValue, match="one of the most common"):
        create_mailbox(strict, "new@example.com", "QwertyUIOP", actor=CONSOLE)
    set_password(strict, ALICE, "1234567890-a", actor=CONSOLE)
    plan = plan_import(
        strict, "address,password\nshort@example.com,abc\nlong@example.com,long enough\nweak@example.com,iloveyou12\n", actor=CONSOLE
    )
    assert [[str(error) for error in row.errors] for row in plan.rows] == [
        ["the password must have at least 10 characters"], [], ["the password is one of the most common ones: choose another"]
    ]
    with pytest.raises(AuthFailed):  # what the issue found: a one-character password logged in to SMTP
        authenticate(strict, "new@example.com", "b", "smtp", HOME)


def test_a_client_polling_from_the_same_address_is_not_written_down_each_time(strict: Database) -> None:
    """Within a minute, a login from the address last noted writes nothing (no commit on the
    login path); another address, or the first use of an app password, is written at once."""
    issued = apps.create_app_password(strict, ALICE, name="phone", actor=CONSOLE)
    authenticate(strict, ALICE, issued.password, "pop3", HOME)
    first = get_mailbox(strict, ALICE, actor=CONSOLE).last_login("pop3")
    used = apps.list_app_passwords(strict, ALICE, actor=CONSOLE)[0].last_used_at
    authenticate(strict, ALICE, issued.password, "pop3", HOME)
    assert get_mailbox(strict, ALICE, actor=CONSOLE).last_login("pop3") == first
    assert apps.list_app_passwords(strict, ALICE, actor=CONSOLE)[0].last_used_at == used
    authenticate(strict, ALICE, issued.password, "pop3", AWAY)
    moved = get_mailbox(strict, ALICE, actor=CONSOLE).last_login("pop3")
    assert moved is not None and moved.client_ip == AWAY
    assert apps.list_app_passwords(strict, ALICE, actor=CONSOLE)[0].last_used_from == AWAY
