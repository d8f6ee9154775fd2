"""What a one-mailbox delivery costs in round trips to PostgreSQL, counted by a forwarder in
front of it: unlogged, one self-committing statement; logged, four (BEGIN, the reservation,
the entry with its webhook question, COMMIT), the cost issue 20 names. A change that takes
one away changes its figure here; one that adds a round trip fails. PostgreSQL only: SQLite has
no network between the process and its database."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from adversarial.support import DatabaseProxy
from sqlalchemy.engine import make_url

from shared.accounts import create_domain, create_mailbox
from shared.accounts.message_tracking import LogFilters, search_messages
from shared.accounts.views import CONSOLE
from shared.mail import message_log
from shared.mail.mailflow import accept_message
from shared.storage.db import Database

pytestmark = pytest.mark.integration
ADDRESS = "alice@example.com"
MESSAGE = b"Subject: trips\r\nMessage-ID: <trips@example.com>\r\n\r\nbody\r\n"


@dataclass(frozen=True)
class Proxied:
    db: Database  # the test database reached through `proxy`
    proxy: DatabaseProxy
    mailbox_id: int


@pytest.fixture
def proxied(db: Database, fast_hashing: None) -> Iterator[Proxied]:
    """The test database with example.com and alice, reached through a counting forwarder."""
    create_domain(db, "example.com", actor=CONSOLE)
    mailbox_id = create_mailbox(db, ADDRESS, "secret-password", actor=CONSOLE).id
    url = make_url(db.settings.database_url)
    proxy = DatabaseProxy((url.host or "127.0.0.1", url.port or 5432))
    through = Database(dataclasses.replace(db.settings, database_url=proxy.url_for(db.settings.database_url)))
    yield Proxied(through, proxy, mailbox_id)
    through.dispose()
    proxy.close()


def round_trips_of_delivery(proxied: Proxied, origin: message_log.Origin | None) -> int:
    """Round trips of the second of two deliveries (the first connects). The null sender spares
    the out-of-office lookup, which is no part of what is counted."""
    db, proxy, mailbox_id = proxied.db, proxied.proxy, proxied.mailbox_id
    counted = 0
    for _ in range(2):
        before = proxy.requests
        acceptance = accept_message(
            db, MESSAGE, return_path="", mailbox_ids=[mailbox_id], remote={}, origin=origin,
            mailbox_addresses={mailbox_id: ADDRESS},
        )  # fmt: skip
        assert acceptance.delivered == (mailbox_id,)
        counted = proxy.requests - before
    return counted


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_unlogged_delivery_is_one_round_trip(proxied: Proxied) -> None:
    assert round_trips_of_delivery(proxied, origin=None) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_logged_delivery_is_four_round_trips_and_logged(proxied: Proxied) -> None:
    assert round_trips_of_delivery(proxied, origin=message_log.Origin("mx", client_ip="192.0.2.1")) == 4
    logged = search_messages(proxied.db, filters=LogFilters(), actor=CONSOLE)
    assert [entry.message_id for entry in logged.items] == ["trips@example.com"] * 2
