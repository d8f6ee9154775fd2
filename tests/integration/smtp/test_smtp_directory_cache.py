"""Recipients kept by the smtp service on PostgreSQL (shared.storage.directory_cache): a hit costs no
database round trip, and a change to the directory reaches every process through the
triggers' NOTIFY, well before an entry would expire."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import event, update

from shared.accounts import create_mailbox, get_mailbox, update_domain, update_mailbox
from shared.accounts.forwarding import set_forwarding
from shared.accounts.views import CONSOLE
from shared.mail.delivery import deliver
from shared.storage.db import Database
from shared.storage.directory_cache import CHANNEL, ENTRY_SECONDS, listen_conninfo
from shared.storage.models import Mailbox

from .conftest import StartSmtp
from .support import DOMAIN, RunningSmtp

pytestmark = pytest.mark.postgres
NOTIFIED_WITHIN = ENTRY_SECONDS / 2


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def erin(db: Database, accounts: None) -> str:
    address = f"erin@{DOMAIN}"
    create_mailbox(db, address, "erin-pw", quota_bytes=1_000_000, actor=CONSOLE)
    deliver(db, b"Subject: first\r\n\r\nhello\r\n", [get_mailbox(db, address, actor=CONSOLE).id], return_path="")
    return address


class Checkouts:
    """Connections the server takes from its pool: one per database round trip of a RCPT."""

    def __init__(self, server: RunningSmtp) -> None:
        self.count = 0
        event.listen(server.db.engine, "checkout", self._count)

    def _count(self, *_: object) -> None:
        self.count += 1


def rcpt_code(server: RunningSmtp, address: str) -> int:
    with smtplib.SMTP("127.0.0.1", server.mx, timeout=30) as client:
        client.ehlo("client.example")
        client.mail("sender@remote.example")
        return client.rcpt(address)[0]


def rcpt_code_once_notified(server: RunningSmtp, address: str, refused: int) -> int:
    """The RCPT reply once it is `refused`, or else the last one before NOTIFIED_WITHIN passed."""
    deadline = time.monotonic() + NOTIFIED_WITHIN
    while (code := rcpt_code(server, address)) != refused and time.monotonic() < deadline:
        time.sleep(0.05)
    return code


def wait_until_kept(server: RunningSmtp, checkouts: Checkouts, address: str) -> None:
    """RCPT until one is answered without the database. The first answers may come before the
    server LISTENs for changes: those are not kept."""
    deadline = time.monotonic() + NOTIFIED_WITHIN
    while True:
        before = checkouts.count
        assert rcpt_code(server, address) == 250
        if checkouts.count == before:
            return
        assert time.monotonic() < deadline, "every RCPT went to the database"


def test_a_recipient_found_once_costs_no_more_round_trips(start_smtp: StartSmtp, erin: str) -> None:
    server = start_smtp()
    checkouts = Checkouts(server)
    wait_until_kept(server, checkouts, erin)
    assert checkouts.count >= 1
    after_hit = checkouts.count
    assert [rcpt_code(server, erin) for _ in range(3)] == [250, 250, 250]
    assert checkouts.count == after_hit


def test_a_nearly_full_mailbox_is_looked_up_every_time(start_smtp: StartSmtp, db: Database, erin: str) -> None:
    frank = f"frank@{DOMAIN}"
    create_mailbox(db, frank, "frank-pw", quota_bytes=1_000_000, actor=CONSOLE)
    with db.session.begin() as s:
        s.execute(update(Mailbox).where(Mailbox.address == erin).values(used_bytes=950_000))
    server = start_smtp()
    checkouts = Checkouts(server)
    wait_until_kept(server, checkouts, frank)  # the cache is on
    before = checkouts.count
    assert rcpt_code(server, erin) == 250
    with db.session.begin() as s:  # a delivery elsewhere fills it: deliveries notify nothing
        s.execute(update(Mailbox).where(Mailbox.address == erin).values(used_bytes=1_000_000))
    assert rcpt_code(server, erin) == 452
    assert checkouts.count >= before + 2


def test_a_kept_mailbox_is_read_again_for_a_message_near_its_quota(start_smtp: StartSmtp, db: Database, erin: str) -> None:
    server = start_smtp()
    checkouts = Checkouts(server)
    wait_until_kept(server, checkouts, erin)
    with db.session.begin() as s:  # filled by deliveries elsewhere, which notify nothing
        s.execute(update(Mailbox).where(Mailbox.address == erin).values(used_bytes=999_000))
    with smtplib.SMTP("127.0.0.1", server.mx, timeout=30) as client:
        client.ehlo("client.example")
        client.mail("sender@remote.example", options=["SIZE=950000"])
        assert client.rcpt(erin)[0] == 452


@pytest.mark.parametrize(
    "change, refused",
    [
        (lambda db, address: update_mailbox(db, address, active=False, actor=CONSOLE), 550),
        (lambda db, address: update_domain(db, DOMAIN, active=False, actor=CONSOLE), 550),
        (lambda db, address: update_mailbox(db, address, quota_bytes=1, actor=CONSOLE), 452),
        (lambda db, address: set_forwarding(db, address, ["elsewhere@remote.example"], keep_copy=False, actor=CONSOLE), 250),
    ],
    ids=["mailbox disabled", "domain disabled", "quota lowered", "forwarding on"],
)
def test_a_change_reaches_the_cache_at_once(start_smtp: StartSmtp, db: Database, erin: str, change, refused: int) -> None:
    server = start_smtp()
    checkouts = Checkouts(server)
    wait_until_kept(server, checkouts, erin)
    change(db, erin)
    if refused == 250:  # forwarding keeps the RCPT accepted: the answer must come from the database again
        kept = checkouts.count
        deadline = time.monotonic() + NOTIFIED_WITHIN
        while checkouts.count == kept and time.monotonic() < deadline:
            assert rcpt_code(server, erin) == 250
            time.sleep(0.05)
        assert checkouts.count > kept, "the forwarding change was not heard"
        return
    assert rcpt_code_once_notified(server, erin, refused) == refused


@pytest.fixture
def listening(db: Database) -> Iterator[psycopg.Connection]:
    with psycopg.connect(listen_conninfo(db), autocommit=True) as connection:
        connection.execute(f"LISTEN {CHANNEL}")
        yield connection


def notified(connection: psycopg.Connection) -> bool:
    return any(True for _ in connection.notifies(timeout=0.5, stop_after=1))


def test_deliveries_and_names_notify_nothing(db: Database, erin: str, listening: psycopg.Connection) -> None:
    deliver(db, b"Subject: hi\r\n\r\nhello\r\n", [get_mailbox(db, erin, actor=CONSOLE).id], return_path="")
    update_mailbox(db, erin, name="Erin Example", actor=CONSOLE)
    assert not notified(listening)
    update_mailbox(db, erin, active=False, actor=CONSOLE)
    assert notified(listening)
