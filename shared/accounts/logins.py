"""The one login decision for every service that takes a password: the portal, SMTP AUTH and
POP3 call `authenticate`; Dovecot checks IMAP passwords itself and asks `imap_policy` and
`report_imap_login` before and after (services.imap.changes), so the lockout and the last
logins are the same for all four.

The order matters: the lockout is looked up with the account, the password is checked either
way (a refused login costs and reads as a wrong one), and only then is the answer given.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, lazyload

from shared.accounts import lockout
from shared.accounts.app_passwords import (
    AppPasswordMatch,
    app_password_by_id,
    find_app_password,
    looks_like_app_password,
    note_use,
)
from shared.accounts.factor_check import has_second_factor
from shared.accounts.passwords import verify_password
from shared.accounts.views import LastLogin, MailboxView
from shared.errors import N_, AccountDisabled, AuthFailed, InvalidAddress, TemporaryFailure
from shared.mail.addresses import parse_address
from shared.storage.db import Database
from shared.storage.lookups import hosted_domain
from shared.storage.models import Mailbox, MailboxLogin
from shared.storage.upserts import insert_for

PROTOCOLS = ("portal", "smtp", "pop3", "imap")
# A login from the address last seen, within this time of the last one noted, is not written again.
NOTED_PRECISION = timedelta(minutes=1)


def _mailbox_named(s: Session, login: str) -> Mailbox | None:
    """The mailbox a login name names: by its address, or local@domain for local@alias-domain."""
    try:
        parsed = parse_address(login)
    except InvalidAddress:
        return None
    domain = hosted_domain(s, parsed.domain)
    key = f"{parsed.local}@{domain.name}" if domain else str(parsed)
    # The forwards (selectin by default) are no business of a login: one query fewer.
    return s.scalars(select(Mailbox).where(Mailbox.address == key).options(lazyload(Mailbox.forwards))).one_or_none()


@dataclass(frozen=True)
class _Found:
    """What a login attempt found, before its password is checked."""

    view: MailboxView | None
    account: str  # as the lockout counts it
    standing: bool | None  # lockout.standing
    stored_hash: str | None
    app: AppPasswordMatch | None  # the app password the password names, if it names one
    last: LastLogin | None  # the mailbox's last login over this protocol


def authenticate(db: Database, address: str, password: str, protocol: str, client_ip: str) -> MailboxView:
    """The mailbox for these credentials over `protocol`, from `client_ip`. Unknown user, wrong
    password, an app password not made for this protocol (or revoked, or expired) and a locked
    out address all fail alike (AuthFailed); a disabled account is reported only to a caller
    who knew the password (AccountDisabled)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}")
    now = datetime.now(timezone.utc)
    found = _look_up(db, address, password, protocol, client_ip, now)
    if found.app is not None:
        ok, new_hash = found.app.admits(protocol, now), None
    else:
        ok, new_hash = verify_password(password, found.stored_hash)
    view = found.view
    if found.standing or view is None or not ok:
        if not found.standing:
            _count_failure(db, found.account, client_ip, now)
        raise AuthFailed(N_("authentication failed"))
    if not (view.active and view.domain_active) or (protocol != "portal" and not getattr(view, f"{protocol}_enabled")):
        raise AccountDisabled(N_("%(address)s may not use %(service)s"), address=view.address, service=protocol)
    _record_success(db, view, found, protocol, client_ip, now, new_hash)
    return view


def _look_up(db: Database, address: str, password: str, protocol: str, client_ip: str, now: datetime) -> _Found:
    """One short read transaction. The hash is checked after it, outside any: on SQLite a
    transaction holds the write lock, and argon2 takes long enough to stall every delivery
    behind a burst of logins."""
    try:
        with db.session.begin() as s:
            mailbox = _mailbox_named(s, address)
            if mailbox is None:
                account = lockout.account_key(address)
                return _Found(None, account, lockout.standing(s, account, client_ip, now), None, None, None)
            app = None
            if protocol != "portal" and looks_like_app_password(password):
                app = find_app_password(s, mailbox.id, password)
            last = s.get(MailboxLogin, (mailbox.id, protocol))
            view = MailboxView.of(mailbox)
            standing = lockout.standing(s, view.address, client_ip, now)
            # With a second factor the main password opens the portal only; mail programs use
            # app passwords. No hash to check against fails it as a wrong password, at the same cost.
            main_password_refused = protocol != "portal" and app is None and has_second_factor(s, mailbox.id)
            stored_hash = None if main_password_refused else mailbox.password_hash
            return _Found(view, view.address, standing, stored_hash, app, LastLogin.of(last) if last else None)
    except SQLAlchemyError as exc:
        raise TemporaryFailure(N_("the account database is not available")) from exc


def _is_news(at: datetime | None, client_ip: str | None, now: datetime, new_ip: str) -> bool:
    """Whether a login is worth writing down: a client polling every minute from the same
    address would otherwise commit a write (an fsync) per login for nothing anyone reads."""
    return at is None or client_ip != new_ip or now - at >= NOTED_PRECISION


def _record_success(
    db: Database, view: MailboxView, found: _Found, protocol: str, client_ip: str, now: datetime, new_hash: str | None
) -> None:
    """The last login (one UPSERT), the app password's use, the failures forgotten and a
    replaced hash, in one transaction; none at all when there is nothing new."""
    login_is_news = _is_news(found.last.at if found.last else None, found.last.client_ip if found.last else None, now, client_ip)
    app = found.app if found.app is not None and _is_news(found.app.last_used_at, found.app.last_used_from, now, client_ip) else None
    if not (login_is_news or app or found.standing is not None or new_hash is not None):
        return
    try:
        with db.session.begin() as s:
            if login_is_news:
                _note_login(s, view, protocol, client_ip, now)
            if found.standing is not None:
                lockout.clear_failures(s, view.address, client_ip)
            if new_hash is not None:
                s.execute(
                    update(Mailbox)
                    .where(Mailbox.id == view.id, Mailbox.password_hash == found.stored_hash)
                    .values(password_hash=new_hash)
                )
            if app is not None:
                note_use(s, app, view, client_ip, now)
    except SQLAlchemyError as exc:
        raise TemporaryFailure(N_("the account database is not available")) from exc


def _count_failure(db: Database, account: str, client_ip: str, now: datetime) -> None:
    try:
        with db.session.begin() as s:
            lockout.record_failure(s, db.settings, account, client_ip, now)
    except SQLAlchemyError as exc:
        raise TemporaryFailure(N_("the account database is not available")) from exc


def _note_login(s: Session, view: MailboxView, protocol: str, client_ip: str, now: datetime) -> None:
    """The last login per protocol, in one UPSERT."""
    insert = insert_for(s, MailboxLogin).values(mailbox_id=view.id, protocol=protocol, at=now, client_ip=client_ip)
    s.execute(
        insert.on_conflict_do_update(
            index_elements=[MailboxLogin.mailbox_id, MailboxLogin.protocol], set_={"at": now, "client_ip": client_ip}
        )
    )


def imap_policy(db: Database, login: str, client_ip: str) -> bool:
    """Before Dovecot checks an IMAP password: may `client_ip` try `login` now?"""
    now = datetime.now(timezone.utc)
    with db.session.begin() as s:
        mailbox = _mailbox_named(s, login)
        account = mailbox.address if mailbox else lockout.account_key(login)
        return not lockout.standing(s, account, client_ip, now)


def report_imap_login(
    db: Database, login: str, client_ip: str, *, success: bool, app_password_id: int | None = None
) -> None:
    """After Dovecot checked an IMAP password: count the failure, or note the login (and the use
    of the app password it was made with)."""
    now = datetime.now(timezone.utc)
    with db.session.begin() as s:
        mailbox = _mailbox_named(s, login)
        if success and mailbox is not None:
            view = MailboxView.of(mailbox)
            _note_login(s, view, "imap", client_ip, now)
            if lockout.standing(s, view.address, client_ip, now) is not None:
                lockout.clear_failures(s, view.address, client_ip)
            app = app_password_by_id(s, view.id, app_password_id) if app_password_id is not None else None
            if app is not None:
                note_use(s, app, view, client_ip, now)
        elif not success:
            lockout.record_failure(s, db.settings, mailbox.address if mailbox else lockout.account_key(login), client_ip, now)


# The lockout's account for the portal's second step: counted apart from the password's, which
# the right password resets, so that a stolen password does not buy endless guesses at codes.
SECOND_STEP = "second-step:"


def check_second_step(db: Database, address: str, client_ip: str, check: Callable[[], bool]) -> bool:
    """The portal's second step (a code or a passkey) for `address`, whose password just passed:
    False when `client_ip` is locked out of that step (`check` is not even run) or when `check`
    fails, which counts towards the same limit as a wrong password."""
    account, now = SECOND_STEP + address, datetime.now(timezone.utc)
    with db.session.begin() as s:
        standing = lockout.standing(s, account, client_ip, now)
    if standing:
        return False
    if not check():
        _count_failure(db, account, client_ip, now)
        return False
    if standing is not None:
        with db.session.begin() as s:
            lockout.clear_failures(s, account, client_ip)
    return True
