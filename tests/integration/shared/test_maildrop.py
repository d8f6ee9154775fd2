"""The POP3 view of a mailbox on both databases: an exclusive, expiring lease; stable UIDs; deletes."""
from __future__ import annotations

import dataclasses
import time

import pytest

from shared.accounts import create_domain, create_mailbox, get_domain, get_mailbox
from shared.accounts.views import CONSOLE
from shared.errors import MaildropLocked, NotFound
from shared.mail.delivery import deliver
from shared.mail.maildrop import (
    commit_deletes,
    open_maildrop,
    open_message,
    release_maildrop,
    renew_maildrop,
)
from shared.storage.db import Database

pytestmark = pytest.mark.usefixtures("fast_hashing")
ADDRESS = "alice@example.com"


def message(n: int) -> bytes:
    return f"Subject: message {n}\r\n\r\n{'x' * n}\r\n".encode()


@pytest.fixture
def filled(db: Database) -> Database:
    """alice with three messages of different sizes."""
    create_domain(db, "example.com", actor=CONSOLE)
    box = create_mailbox(db, ADDRESS, "pw", actor=CONSOLE)
    for n in (1, 2, 3):
        deliver(db, message(n), [box.id])
    return db


def test_open_lists_messages_oldest_first(filled: Database) -> None:
    drop = open_maildrop(filled, "Alice@Example.com", "pop3-a")
    assert drop.address == ADDRESS and drop.mailbox_id == get_mailbox(filled, ADDRESS, actor=CONSOLE).id
    assert [m.size for m in drop.messages] == [len(message(n)) for n in (1, 2, 3)]
    with open_message(filled, drop, drop.messages[1].uid) as handle:
        assert handle.read() == message(2)
    with pytest.raises(NotFound):
        open_message(filled, drop, "no-such-uid")
    with pytest.raises(NotFound):
        open_maildrop(filled, "nobody@example.com", "pop3-a")


def test_lease_is_exclusive_between_holders(filled: Database) -> None:
    first = open_maildrop(filled, ADDRESS, "pop3-a")
    with pytest.raises(MaildropLocked):
        open_maildrop(filled, ADDRESS, "pop3-b")
    assert open_maildrop(filled, ADDRESS, "pop3-a").messages == first.messages
    release_maildrop(filled, first, "pop3-b")  # not the holder: changes nothing
    with pytest.raises(MaildropLocked):
        open_maildrop(filled, ADDRESS, "pop3-b")
    release_maildrop(filled, first, "pop3-a")
    open_maildrop(filled, ADDRESS, "pop3-b")


def test_uids_are_stable_across_opens(filled: Database) -> None:
    first = open_maildrop(filled, ADDRESS, "pop3-a")
    release_maildrop(filled, first, "pop3-a")
    deliver(filled, message(4), [first.mailbox_id])
    second = open_maildrop(filled, ADDRESS, "pop3-b")
    assert [m.uid for m in second.messages[:3]] == [m.uid for m in first.messages]
    assert len(second.messages) == 4 and second.messages[3].uid not in {m.uid for m in first.messages}
    assert len({m.uid for m in second.messages}) == 4


def test_commit_deletes_removes_files_updates_counters_and_releases(filled: Database) -> None:
    drop = open_maildrop(filled, ADDRESS, "pop3-a")
    doomed = [drop.messages[0].uid, drop.messages[2].uid]
    commit_deletes(filled, drop, "pop3-a", doomed + [drop.messages[0].uid])
    remaining = len(message(2))
    assert (get_mailbox(filled, ADDRESS, actor=CONSOLE).used_bytes, get_mailbox(filled, ADDRESS, actor=CONSOLE).messages) == (remaining, 1)
    assert get_domain(filled, "example.com", actor=CONSOLE).used_bytes == remaining
    after = open_maildrop(filled, ADDRESS, "pop3-b")  # the lease was released
    assert [m.uid for m in after.messages] == [drop.messages[1].uid]
    assert not any(m.path.exists() for m in drop.messages if m.uid in doomed)


def test_commit_of_an_unknown_uid_deletes_nothing(filled: Database) -> None:
    drop = open_maildrop(filled, ADDRESS, "pop3-a")
    with pytest.raises(NotFound):
        commit_deletes(filled, drop, "pop3-a", [drop.messages[0].uid, "bogus"])
    assert all(m.path.exists() for m in drop.messages)
    assert get_mailbox(filled, ADDRESS, actor=CONSOLE).messages == 3


def test_lease_expires_renews_and_a_lost_lease_deletes_nothing(filled: Database) -> None:
    quick = Database(dataclasses.replace(filled.settings, maildrop_lease_seconds=1))
    try:
        first = open_maildrop(quick, ADDRESS, "pop3-a")
        time.sleep(0.6)
        assert renew_maildrop(quick, first, "pop3-a")
        time.sleep(0.6)  # 1.2 s after opening, 0.6 s after renewing
        with pytest.raises(MaildropLocked):
            open_maildrop(quick, ADDRESS, "pop3-b")
        time.sleep(0.6)
        second = open_maildrop(quick, ADDRESS, "pop3-b")
        assert not renew_maildrop(quick, first, "pop3-a")
        with pytest.raises(MaildropLocked):
            commit_deletes(quick, first, "pop3-a", [first.messages[0].uid])
        assert all(m.path.exists() for m in first.messages)
        assert get_mailbox(quick, ADDRESS, actor=CONSOLE).messages == 3
        assert renew_maildrop(quick, second, "pop3-b")
    finally:
        quick.dispose()
