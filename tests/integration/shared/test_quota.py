"""`quota recalc` on both databases: counters repaired from the disk, and what changed reported."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from shared.accounts import create_domain, create_mailbox, get_domain, get_mailbox
from shared.accounts.views import CONSOLE
from shared.errors import InvalidAddress, NotFound
from shared.mail.delivery import deliver
from shared.mail.quota import QuotaRepair, give_back, recalc_quota, recount_after_imap
from shared.storage import maildirs
from shared.storage.db import Database
from shared.storage.models import Mailbox

pytestmark = pytest.mark.usefixtures("fast_hashing")
MESSAGE = b"Subject: q\r\n\r\n" + b"x" * 100 + b"\r\n"


@pytest.fixture
def populated(db: Database) -> Database:
    """alice: 3 messages, bob: 1, carol (other domain): 2; all counters right."""
    create_domain(db, "example.com", actor=CONSOLE)
    create_domain(db, "example.net", actor=CONSOLE)
    for address, count in (("alice@example.com", 3), ("bob@example.com", 1), ("carol@example.net", 2)):
        box = create_mailbox(db, address, "pw", actor=CONSOLE)
        for _ in range(count):
            deliver(db, MESSAGE, [box.id])
    return db


def test_recalc_of_right_counters_changes_nothing(populated: Database) -> None:
    repairs = recalc_quota(populated)
    assert [r.address for r in repairs] == ["alice@example.com", "bob@example.com", "carol@example.net"]
    assert not any(r.changed for r in repairs)
    assert repairs[0] == QuotaRepair("alice@example.com", 3 * len(MESSAGE), 3 * len(MESSAGE), 3, 3)


def test_recalc_repairs_mailboxes_and_domain_totals(populated: Database) -> None:
    alice = populated.settings.mail_root / "example.com" / "alice"
    lost = maildirs.list_messages(alice)[0].path
    lost.unlink()  # a message lost on disk: the counters are now too high
    stray = maildirs.write_pending(populated.settings.mail_root / "example.net" / "carol", b"y" * 50)
    maildirs.publish(stray)  # a message that reached new/ but was never counted
    repairs = {r.address: r for r in recalc_quota(populated)}
    assert repairs["alice@example.com"] == QuotaRepair("alice@example.com", 3 * len(MESSAGE), 2 * len(MESSAGE), 3, 2)
    assert repairs["carol@example.net"] == QuotaRepair("carol@example.net", 2 * len(MESSAGE), 2 * len(MESSAGE) + 50, 2, 3)
    assert repairs["alice@example.com"].changed and repairs["carol@example.net"].changed
    assert not repairs["bob@example.com"].changed
    alice_view = get_mailbox(populated, "alice@example.com", actor=CONSOLE)
    assert (alice_view.used_bytes, alice_view.messages) == (2 * len(MESSAGE), 2)
    assert get_domain(populated, "example.com", actor=CONSOLE).used_bytes == 3 * len(MESSAGE)
    assert get_domain(populated, "example.net", actor=CONSOLE).used_bytes == 2 * len(MESSAGE) + 50


def test_recalc_counts_every_folder(populated: Database) -> None:
    """An IMAP client files mail in Maildir++ folders; it is on disk and counts like INBOX's."""
    bob = populated.settings.mail_root / "example.com" / "bob"
    maildirs.publish(maildirs.write_pending(bob / ".Sent", b"z" * 70))
    (repair,) = recalc_quota(populated, "bob@example.com")
    assert (repair.used_bytes, repair.messages) == (len(MESSAGE) + 70, 2)
    assert get_domain(populated, "example.com", actor=CONSOLE).used_bytes == 4 * len(MESSAGE) + 70


def test_recalc_of_one_mailbox(populated: Database) -> None:
    for path in (m.path for m in maildirs.list_messages(populated.settings.mail_root / "example.com" / "bob")):
        path.unlink()
    (alice_repair,) = recalc_quota(populated, "Alice@Example.com")
    assert not alice_repair.changed
    assert get_mailbox(populated, "bob@example.com", actor=CONSOLE).messages == 1  # not recounted
    (bob_repair,) = recalc_quota(populated, "bob@example.com")
    assert (bob_repair.used_bytes, bob_repair.messages, bob_repair.changed) == (0, 0, True)
    assert get_domain(populated, "example.com", actor=CONSOLE).used_bytes == 3 * len(MESSAGE)
    with pytest.raises(NotFound):
        recalc_quota(populated, "nobody@example.com")
    with pytest.raises(InvalidAddress):
        recalc_quota(populated, "not an address")


def test_recalc_of_a_missing_maildir_counts_zero(populated: Database) -> None:
    folder = populated.settings.mail_root / "example.com" / "bob"
    for sub in ("new", "cur", "tmp"):
        for child in (folder / sub).iterdir():
            child.unlink()
        (folder / sub).rmdir()
    (repair,) = recalc_quota(populated, "bob@example.com")
    assert (repair.used_bytes, repair.messages) == (0, 0)


# What Dovecot 2.3's SQL dict runs for each quota_clone write, on SQLite and PostgreSQL alike
# (src/lib-dict-backend/dict-sql.c, sql_dict_set_query), with named parameters for its `?`.
DOVECOT_CLONE_WRITE = (
    "INSERT INTO imap_usage (used_bytes,messages,address) VALUES (:bytes,:messages,:address)"
    " ON CONFLICT (address) DO UPDATE SET used_bytes=:bytes,messages=:messages"
)


def test_dovecots_totals_become_the_counters_and_move_the_domain(populated: Database) -> None:
    """Migration 0009's triggers, for the first write (INSERT) and each later one (UPDATE)."""
    for total, count in ((5 * len(MESSAGE), 5), (len(MESSAGE) + 7, 2)):
        with populated.engine.begin() as connection:
            connection.execute(text(DOVECOT_CLONE_WRITE), {"bytes": total, "messages": count, "address": "alice@example.com"})
        alice = get_mailbox(populated, "alice@example.com", actor=CONSOLE)
        assert (alice.used_bytes, alice.messages) == (total, count)
        assert get_domain(populated, "example.com", actor=CONSOLE).used_bytes == total + len(MESSAGE)  # bob's
        assert get_domain(populated, "example.net", actor=CONSOLE).used_bytes == 2 * len(MESSAGE)


# -- recount after an IMAP change ---------------------------------------------------------


def _counters(db: Database, address: str) -> tuple[int, int, int]:
    view = get_mailbox(db, address, actor=CONSOLE)
    return view.used_bytes, view.messages, get_domain(db, address.split("@")[1], actor=CONSOLE).used_bytes


def test_recount_after_imap_writes_the_disk_totals_once(populated: Database) -> None:
    """Dovecot filed a message in Sent and expunged one from INBOX: the counters become the
    disk's totals, the domain moves by the difference (bob's bytes stay in it), and a second
    recount of the same disk changes nothing."""
    alice = populated.settings.mail_root / "example.com" / "alice"
    maildirs.publish(maildirs.write_pending(alice / ".Sent", b"s" * 70))
    maildirs.list_messages(alice)[0].path.unlink()
    for _ in range(2):
        assert recount_after_imap(populated, "alice@example.com")
        assert _counters(populated, "alice@example.com") == (2 * len(MESSAGE) + 70, 3, 3 * len(MESSAGE) + 70)
    assert _counters(populated, "carol@example.net") == (2 * len(MESSAGE), 2, 2 * len(MESSAGE))


def test_recount_after_imap_of_no_mailbox_writes_nothing(populated: Database) -> None:
    assert not recount_after_imap(populated, "nobody@example.com")
    with populated.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM imap_usage")).scalar() == 0


def test_a_pop3_delete_under_way_is_counted_once(populated: Database) -> None:
    """A recount that starts while a POP3 delete holds the mailbox row (files removed, bytes
    not yet given back) waits for it and counts after it: counting first would write the
    removed message back into the counters once the delete committed."""
    assert recount_after_imap(populated, "alice@example.com")  # imap_usage has alice's row
    alice = get_mailbox(populated, "alice@example.com", actor=CONSOLE)
    recount = threading.Thread(target=recount_after_imap, args=(populated, "alice@example.com"))
    with populated.session.begin() as s:
        s.execute(select(Mailbox.id).where(Mailbox.id == alice.id).with_for_update())
        recount.start()
        recount.join(timeout=0.5)
        assert recount.is_alive()  # waiting for the row
        path = maildirs.list_messages(populated.settings.mail_root / "example.com" / "alice")[0].path
        freed = maildirs.remove_messages([path])
        give_back(s, alice.id, freed, 1)
    recount.join()
    assert _counters(populated, "alice@example.com") == (2 * len(MESSAGE), 2, 3 * len(MESSAGE))
