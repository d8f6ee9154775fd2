"""What any local process may send to the listener for Dovecot's IMAP change events
(services/imap/changes.py): it serves loopback to anyone, so only a request on its secret
path that names a hosted address makes it recount, and a bad request gets its refusal and
costs nothing else. Each refusal is followed by a good event for another mailbox: the
worker takes them in order, so once that one is counted, a recount the refused request had
caused would have happened too."""
from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from services.imap.changes import MAX_EVENT_BYTES, ChangeListener
from shared.accounts import create_domain, create_mailbox, get_mailbox
from shared.accounts.views import CONSOLE
from shared.mail.delivery import deliver
from shared.storage import maildirs
from shared.storage.db import Database

DOMAIN = "changes.example"
MESSAGE = b"Subject: c\r\n\r\n" + b"x" * 200 + b"\r\n"
WAIT_SECONDS = 10.0


@pytest.fixture
def listener(db: Database) -> Iterator[ChangeListener]:
    create_domain(db, DOMAIN, actor=CONSOLE)
    with ChangeListener(db) as running:
        yield running


def filed_behind_our_back(db: Database, local: str) -> str:
    """A mailbox with one delivered message and one that an IMAP APPEND put in Sent, which
    its counters do not know yet; its address."""
    address = f"{local}@{DOMAIN}"
    view = create_mailbox(db, address, "pw pw pw pw", actor=CONSOLE)
    deliver(db, MESSAGE, [view.id])
    maildirs.publish(maildirs.write_pending(db.settings.mail_root / DOMAIN / local / ".Sent", MESSAGE))
    return address


def messages_counted(db: Database, address: str) -> int:
    return get_mailbox(db, address, actor=CONSOLE).messages


def event(user: object) -> bytes:
    return json.dumps({"event": "imap_command_finished", "fields": {"user": user}}).encode()


def connect(listener: ChangeListener) -> http.client.HTTPConnection:
    url = urlsplit(listener.url)
    return http.client.HTTPConnection(str(url.hostname), url.port, timeout=WAIT_SECONDS)


def post(listener: ChangeListener, path: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    connection = connect(listener)
    try:
        connection.request("POST", path, body, headers or {})
        return connection.getresponse().status
    finally:
        connection.close()


def the_secret_path(listener: ChangeListener) -> str:
    return urlsplit(listener.url).path


def counted_after_a_good_event(db: Database, listener: ChangeListener, refused: str) -> int:
    """How many messages `refused`'s counters show once a good event for another mailbox was counted."""
    witness = filed_behind_our_back(db, "witness")
    assert post(listener, the_secret_path(listener), event(witness)) == 204
    deadline = time.monotonic() + WAIT_SECONDS
    while messages_counted(db, witness) != 2:
        assert time.monotonic() < deadline, "the good event was never counted"
        time.sleep(0.05)
    return messages_counted(db, refused)


def test_an_event_on_the_secret_path_recounts_its_user(db: Database, listener: ChangeListener) -> None:
    address = filed_behind_our_back(db, "alice")
    assert messages_counted(db, address) == 1
    assert post(listener, the_secret_path(listener), event(address.upper())) == 204
    assert counted_after_a_good_event(db, listener, address) == 2


@pytest.mark.parametrize("path", ["/", "/secret", "/{secret}x", "/x{secret}", "/{secret}/", "/../{secret}"])
def test_a_request_off_the_secret_path_recounts_nothing(db: Database, listener: ChangeListener, path: str) -> None:
    address = filed_behind_our_back(db, "alice")
    assert post(listener, path.format(secret=listener.secret), event(address)) == 404
    assert counted_after_a_good_event(db, listener, address) == 1


@pytest.mark.parametrize("user", ["../../changes.example/alice", "alice", None, ["alice@changes.example"]])
def test_a_body_that_names_no_address_is_refused(db: Database, listener: ChangeListener, user: object) -> None:
    address = filed_behind_our_back(db, "alice")
    assert post(listener, the_secret_path(listener), event(user)) == 400
    assert counted_after_a_good_event(db, listener, address) == 1


def test_an_address_we_do_not_host_is_taken_and_changes_nothing(db: Database, listener: ChangeListener) -> None:
    address = filed_behind_our_back(db, "alice")
    assert post(listener, the_secret_path(listener), event(f"mallory@{DOMAIN}")) == 204
    assert counted_after_a_good_event(db, listener, address) == 1


def test_an_oversized_or_unmeasured_body_is_refused_unread(db: Database, listener: ChangeListener) -> None:
    address = filed_behind_our_back(db, "alice")
    huge = event(address) + b" " * MAX_EVENT_BYTES
    assert post(listener, the_secret_path(listener), huge) == 413
    assert post(listener, the_secret_path(listener), event(address), {"Content-Length": "-5"}) == 413
    assert post(listener, the_secret_path(listener), event(address), {"Content-Length": "five"}) == 411
    assert counted_after_a_good_event(db, listener, address) == 1


def test_events_follow_each_other_on_one_connection(db: Database, listener: ChangeListener) -> None:
    """Dovecot's HTTP client keeps its connection: every event on it counts."""
    first, second = filed_behind_our_back(db, "alice"), filed_behind_our_back(db, "bob")
    connection = connect(listener)
    try:
        for address in (first, second):
            connection.request("POST", the_secret_path(listener), event(address))
            response = connection.getresponse()
            response.read()
            assert response.status == 204
    finally:
        connection.close()
    assert counted_after_a_good_event(db, listener, first) == 2
    assert messages_counted(db, second) == 2
