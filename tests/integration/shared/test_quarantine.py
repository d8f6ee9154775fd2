"""The Junk folder's use cases on a real Maildir and both databases: what is listed, a release
that keeps the POP3 UIDL and the quota, a delete that gives the bytes back, and who may."""
from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from shared.accounts import create_domain, create_mailbox, get_domain, get_mailbox, grant_role, list_audit
from shared.accounts.permissions import Scope
from shared.accounts.quarantine import delete_junk_message, list_junk_messages, release_junk_message
from shared.accounts.views import CONSOLE, Actor
from shared.errors import InvalidValue, NotFound, PermissionDenied
from shared.storage.db import Database
from shared.storage.maildirs import UIDL_ATTRIBUTE, disk_usage, list_messages
from tests.conftest import require_user_attributes
from tests.junkmail import MOVED_BY_IMAP, SPAM, dovecot_seen, junk_file, maildir_of
from tests.junkmail import put_in_junk as junk

pytestmark = pytest.mark.usefixtures("fast_hashing")

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.net"
def actor(address: str, *, admin: bool = False, domains: tuple[str, ...] = ()) -> Actor:
    return Actor(Scope(address, is_global_admin=admin, domains=frozenset(domains)))


@pytest.fixture
def hosted(db: Database) -> Database:
    """alice and bob at example.com, carol at example.net; bob manages example.com."""
    create_domain(db, "example.com", actor=CONSOLE)
    create_domain(db, "example.net", actor=CONSOLE)
    for address in (ALICE, BOB, CAROL):
        create_mailbox(db, address, "pw", actor=CONSOLE)
    grant_role(db, BOB, domain="example.com", actor=CONSOLE)
    return db


def counters(db: Database, address: str) -> tuple[int, int]:
    mailbox = get_mailbox(db, address, actor=CONSOLE)
    return mailbox.used_bytes, mailbox.messages


def test_listing_shows_the_verdict_and_messages_without_one(hosted: Database) -> None:
    spam = junk(hosted, ALICE, SPAM)
    moved = junk(hosted, ALICE, MOVED_BY_IMAP)
    dovecot_seen(junk_file(hosted, ALICE, moved))
    listing = list_junk_messages(hosted, ALICE, actor=actor(ALICE))
    assert listing.address == ALICE and listing.total == 2
    by_id = {message.id: message for message in listing.messages}
    assert set(by_id) == {spam, moved}
    assert by_id[spam].subject == "You have wön" and by_id[spam].sender == "Prize Desk <win@lottery.example>"
    assert by_id[spam].score == 12.5 and by_id[spam].reasons == ("BAYES_SPAM", "DMARC quarantine", "MISSING_MID")
    assert by_id[spam].date == datetime(2026, 12, 1, 9, 0, tzinfo=UTC) and by_id[spam].size == len(SPAM)
    assert by_id[moved].score is None and by_id[moved].reasons == () and by_id[moved].subject == "lunch?"
    assert [m.id for m in listing.messages] == sorted(by_id, reverse=True)  # newest first
    assert list_junk_messages(hosted, ALICE, actor=actor(ALICE), limit=1).total == 2


def test_empty_and_missing_junk_folders_list_nothing(hosted: Database) -> None:
    assert list_junk_messages(hosted, CAROL, actor=CONSOLE).messages == ()
    (maildir_of(hosted, CAROL) / ".Junk").mkdir()
    assert list_junk_messages(hosted, CAROL, actor=CONSOLE).total == 0


def test_release_moves_into_the_inbox_with_its_uidl_and_quota(hosted: Database) -> None:
    require_user_attributes(maildir_of(hosted, ALICE) / "tmp")
    uid = junk(hosted, ALICE, SPAM)
    seen = dovecot_seen(junk_file(hosted, ALICE, uid))
    inode, before = seen.stat().st_ino, counters(hosted, ALICE)
    release_junk_message(hosted, ALICE, uid, actor=actor(ALICE))
    inbox = list_messages(maildir_of(hosted, ALICE))
    assert [message.uid for message in inbox] == [uid]
    released = inbox[0].path
    assert released.parent.name == "new" and ":" not in released.name  # unread again, no flags
    assert released.stat().st_ino == inode and os.getxattr(released, UIDL_ATTRIBUTE) == uid.encode()
    assert released.read_bytes() == SPAM and not seen.exists()
    assert counters(hosted, ALICE) == before == disk_usage(maildir_of(hosted, ALICE))
    assert list_junk_messages(hosted, ALICE, actor=CONSOLE).messages == ()
    with pytest.raises(NotFound):  # the same id again: it is not in Junk any more
        release_junk_message(hosted, ALICE, uid, actor=actor(ALICE))
    assert [entry.action for entry in list_audit(hosted, actor=CONSOLE, action="junk.release")] == ["junk.release"]


def test_delete_gives_the_bytes_back(hosted: Database) -> None:
    kept, gone = junk(hosted, ALICE, MOVED_BY_IMAP), junk(hosted, ALICE, SPAM)
    domain_before = get_domain(hosted, "example.com", actor=CONSOLE).used_bytes
    delete_junk_message(hosted, ALICE, gone, actor=actor(BOB, domains=("example.com",)))
    assert counters(hosted, ALICE) == (len(MOVED_BY_IMAP), 1) == disk_usage(maildir_of(hosted, ALICE))
    assert [m.id for m in list_junk_messages(hosted, ALICE, actor=CONSOLE).messages] == [kept]
    assert get_domain(hosted, "example.com", actor=CONSOLE).used_bytes == domain_before - len(SPAM)
    with pytest.raises(NotFound):
        delete_junk_message(hosted, ALICE, gone, actor=CONSOLE)
    assert counters(hosted, ALICE) == (len(MOVED_BY_IMAP), 1)


def test_rights_follow_the_mailbox(hosted: Database) -> None:
    alice_spam, carol_spam = junk(hosted, ALICE, SPAM), junk(hosted, CAROL, SPAM)
    manager, staff = actor(BOB, domains=("example.com",)), actor(ALICE)
    assert [m.id for m in list_junk_messages(hosted, ALICE, actor=manager).messages] == [alice_spam]
    assert [m.id for m in list_junk_messages(hosted, CAROL, actor=actor("x@y.example", admin=True)).messages] == [carol_spam]
    for outsider, address in ((manager, CAROL), (staff, BOB), (staff, CAROL)):
        with pytest.raises(NotFound):
            list_junk_messages(hosted, address, actor=outsider)
        with pytest.raises(NotFound):
            delete_junk_message(hosted, address, carol_spam, actor=outsider)
    reader = Actor(Scope(BOB, domains=frozenset({"example.com"}), read_only=True))
    with pytest.raises(PermissionDenied):
        release_junk_message(hosted, ALICE, alice_spam, actor=reader)
    with pytest.raises(NotFound):  # another mailbox's message id names nothing in this one
        release_junk_message(hosted, ALICE, carol_spam, actor=CONSOLE)
    assert len(list_junk_messages(hosted, CAROL, actor=CONSOLE).messages) == 1
    assert len(list_junk_messages(hosted, ALICE, actor=CONSOLE).messages) == 1


@pytest.mark.parametrize("bad", ["", "..", "../../x", ".Junk", "a/b", "a b", "x" * 71, "id\x00", "ä"])
def test_malformed_ids_are_refused(hosted: Database, bad: str) -> None:
    with pytest.raises(InvalidValue):
        release_junk_message(hosted, ALICE, bad, actor=CONSOLE)
    with pytest.raises(InvalidValue):
        delete_junk_message(hosted, ALICE, bad, actor=CONSOLE)
