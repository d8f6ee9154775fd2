"""One lockout for every service that takes a password, kept in the database so that every
process and replica counts the same failures.

`login_max_failures` failed logins to one account from one client address within WINDOW
refuse that address for that account, the right password included, for `login_lockout`
seconds. The key is the pair: failures from one address never lock another out, so a
guesser elsewhere cannot shut the owner out of the devices they use (and one phone with an
old password behind an office's NAT locks out only itself, for that one account). A refused
login is answered as a wrong password is, by every service.

The window is fixed from its first failure: one row per (account, address), written with one
UPSERT per failure, instead of a row per failure to count.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import ColumnElement, and_, case, delete, or_, select, update
from sqlalchemy.orm import Session

from shared.accounts import audit
from shared.accounts.permissions import Scope, require_manager, require_write
from shared.accounts.views import Actor
from shared.config import Settings
from shared.errors import N_, InvalidAddress, NotFound
from shared.mail.addresses import parse_address
from shared.storage.db import Database
from shared.storage.models import LoginFailure
from shared.storage.times import as_utc
from shared.storage.upserts import insert_for

WINDOW = timedelta(minutes=15)
# The audit log names the client as the one who locked an account.
LOCKOUT_ACTOR = "lockout"


@dataclass(frozen=True)
class LockView:
    account: str
    client_ip: str
    failures: int
    locked_until: datetime


def account_key(login: str) -> str:
    """The account a login name names, as the lockout counts it: the normalised address, or
    for a name that is no address (it fails all the same) the name in lower case."""
    try:
        return str(parse_address(login))
    except InvalidAddress:
        return login.strip().lower()[:320]


def standing(s: Session, account: str, client_ip: str, now: datetime) -> bool | None:
    """Whether the address is locked out of the account now; None when it has no failures counted."""
    row = s.execute(
        select(LoginFailure.locked_until).where(LoginFailure.account == account, LoginFailure.client_ip == client_ip)
    ).one_or_none()
    if row is None:
        return None
    return row.locked_until is not None and as_utc(row.locked_until) > now


def record_failure(s: Session, settings: Settings, account: str, client_ip: str, now: datetime) -> int:
    """Count one failure; at the limit the address is locked for the account (audited).
    Returns the failures in the window so far."""
    stale = LoginFailure.window_start < now - WINDOW
    failures = case((stale, 1), else_=LoginFailure.failures + 1)
    insert = insert_for(s, LoginFailure).values(
        account=account, client_ip=client_ip, domain=account.rpartition("@")[2], failures=1, window_start=now
    )
    counted = s.execute(
        insert.on_conflict_do_update(
            index_elements=[LoginFailure.account, LoginFailure.client_ip],
            set_={"failures": failures, "window_start": case((stale, now), else_=LoginFailure.window_start)},
        ).returning(LoginFailure.failures)
    ).scalar_one()
    if counted == 1:  # a new window: drop what went stale meanwhile, once per window, not per failure
        s.execute(delete(LoginFailure).where(*_stale(now)))
    if counted >= settings.login_max_failures:
        _lock(s, account, client_ip, now, now + timedelta(seconds=settings.login_lockout), counted)
    return int(counted)


def _lock(s: Session, account: str, client_ip: str, now: datetime, until: datetime, failures: int) -> None:
    """Lock the pair unless it is locked already (a failure after a lock ran out, within the
    same window, locks again at once)."""
    locked = s.execute(
        update(LoginFailure)
        .where(LoginFailure.account == account, LoginFailure.client_ip == client_ip)
        .where(or_(LoginFailure.locked_until.is_(None), LoginFailure.locked_until <= now))
        .values(locked_until=until)
        .returning(LoginFailure.account)
    ).scalar_one_or_none()
    if locked is not None:
        actor = Actor(Scope(LOCKOUT_ACTOR), ip=client_ip)
        detail = f"{failures} failed logins from {client_ip}; locked until {until.isoformat(timespec='seconds')}"
        audit.record(s, actor, "login.lock", account, account.rpartition("@")[2], detail)


def _stale(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        LoginFailure.window_start < now - WINDOW,
        or_(LoginFailure.locked_until.is_(None), LoginFailure.locked_until <= now),
    )


def clear_failures(s: Session, account: str, client_ip: str) -> None:
    """A successful login from this address starts its count afresh."""
    s.execute(delete(LoginFailure).where(LoginFailure.account == account, LoginFailure.client_ip == client_ip))


def _visible(scope: Scope) -> list[ColumnElement[bool]]:
    domains = scope.domain_filter()
    return [] if domains is None else [LoginFailure.domain.in_(domains)]


def list_locks(db: Database, *, actor: Actor, now: datetime | None = None) -> list[LockView]:
    """The addresses refused now, for accounts of the actor's domains, soonest lifted last."""
    require_manager(actor.scope)
    moment = now or datetime.now(timezone.utc)
    query = (
        select(LoginFailure)
        .where(LoginFailure.locked_until > moment, *_visible(actor.scope))
        .order_by(LoginFailure.locked_until.desc(), LoginFailure.account, LoginFailure.client_ip)
    )
    with db.session.begin() as s:
        return [
            LockView(row.account, row.client_ip, row.failures, as_utc(row.locked_until))
            for row in s.scalars(query)
            if row.locked_until is not None
        ]


def lift_lock(db: Database, account: str, client_ip: str, *, actor: Actor) -> None:
    """Let `client_ip` log in to `account` again (its failures forgotten); audited."""
    require_write(actor.scope)
    require_manager(actor.scope)
    key = account_key(account)
    with db.session.begin() as s:
        row = s.scalars(
            select(LoginFailure).where(
                and_(LoginFailure.account == key, LoginFailure.client_ip == client_ip.strip()), *_visible(actor.scope)
            )
        ).one_or_none()
        if row is None:
            raise NotFound(N_("no lock for %(account)s from %(address)s"), account=key, address=client_ip.strip())
        audit.record(s, actor, "login.unlock", key, row.domain, f"from {row.client_ip}")
        s.delete(row)
