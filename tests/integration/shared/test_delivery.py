"""Local delivery on both databases: what is stored, quota under races, all-or-nothing on failure."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from shared.accounts import create_domain, create_mailbox, get_domain, get_mailbox
from shared.accounts.views import CONSOLE, MailboxView
from shared.errors import TemporaryFailure
from shared.mail import quota
from shared.mail.delivery import deliver
from shared.mail.maildrop import commit_deletes, open_maildrop
from shared.mail.quota import recalc_quota
from shared.storage import maildirs
from shared.storage.db import Database

pytestmark = pytest.mark.usefixtures("fast_hashing")
MESSAGE = b"From: a@elsewhere.example\r\nSubject: test\r\n\r\nHello\r\n"


def maildir(db: Database, address: str) -> Path:
    local, _, domain = address.partition("@")
    return db.settings.mail_root / domain / local


def files(db: Database, address: str, sub: str) -> list[str]:
    return sorted(os.listdir(maildir(db, address) / sub))


def counters(db: Database, address: str) -> tuple[int, int]:
    view = get_mailbox(db, address, actor=CONSOLE)
    return view.used_bytes, view.messages


@pytest.fixture
def boxes(db: Database) -> tuple[MailboxView, MailboxView]:
    create_domain(db, "example.com", actor=CONSOLE)
    return create_mailbox(db, "alice@example.com", "pw", actor=CONSOLE), create_mailbox(db, "bob@example.com", "pw", actor=CONSOLE)


def test_delivery_stores_crlf_with_return_path_in_new(db: Database, boxes: tuple[MailboxView, MailboxView]) -> None:
    alice, _ = boxes
    report = deliver(db, b"Subject: lf\n\nline one\nline two\r\nno newline at end", [alice.id], return_path="s@elsewhere.example")
    assert report.delivered == (alice.id,) and report.over_quota == ()
    expected = b"Return-Path: <s@elsewhere.example>\r\nSubject: lf\r\n\r\nline one\r\nline two\r\nno newline at end\r\n"
    (name,) = files(db, alice.address, "new")
    assert (maildir(db, alice.address) / "new" / name).read_bytes() == expected
    assert name.endswith(f",S={len(expected)}")
    assert files(db, alice.address, "tmp") == []
    assert counters(db, alice.address) == (len(expected), 1)
    assert get_domain(db, "example.com", actor=CONSOLE).used_bytes == len(expected)


def test_null_sender_and_no_return_path(db: Database, boxes: tuple[MailboxView, MailboxView]) -> None:
    alice, bob = boxes
    deliver(db, MESSAGE, [alice.id], return_path="")
    deliver(db, MESSAGE, [bob.id])
    (alice_file,) = files(db, alice.address, "new")
    (bob_file,) = files(db, bob.address, "new")
    assert (maildir(db, alice.address) / "new" / alice_file).read_bytes() == b"Return-Path: <>\r\n" + MESSAGE
    assert (maildir(db, bob.address) / "new" / bob_file).read_bytes() == MESSAGE


def test_one_copy_per_mailbox(db: Database, boxes: tuple[MailboxView, MailboxView]) -> None:
    alice, bob = boxes
    report = deliver(db, MESSAGE, [bob.id, alice.id, bob.id])
    assert sorted(report.delivered) == sorted([alice.id, bob.id])
    assert counters(db, alice.address) == counters(db, bob.address) == (len(MESSAGE), 1)
    assert len(files(db, bob.address, "new")) == 1
    assert get_domain(db, "example.com", actor=CONSOLE).used_bytes == 2 * len(MESSAGE)


def test_over_quota_is_refused_and_leaves_nothing(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    small = create_mailbox(db, "small@example.com", "pw", quota_bytes=len(MESSAGE) + 10, actor=CONSOLE)
    roomy = create_mailbox(db, "roomy@example.com", "pw", actor=CONSOLE)
    assert deliver(db, MESSAGE, [small.id]).delivered == (small.id,)
    assert deliver(db, MESSAGE, [small.id]).over_quota == (small.id,)  # alone (PostgreSQL: one statement)
    report = deliver(db, MESSAGE, [small.id, roomy.id])
    assert (report.delivered, report.over_quota) == ((roomy.id,), (small.id,))
    assert len(files(db, small.address, "new")) == 1 and files(db, small.address, "tmp") == []
    assert counters(db, small.address) == (len(MESSAGE), 1)
    assert get_domain(db, "example.com", actor=CONSOLE).used_bytes == 2 * len(MESSAGE)


def test_domain_total_is_a_cap_across_its_mailboxes(db: Database) -> None:
    create_domain(db, "example.com", quota_bytes=len(MESSAGE) * 3, actor=CONSOLE)
    alice, bob = create_mailbox(db, "alice@example.com", "pw", actor=CONSOLE), create_mailbox(db, "bob@example.com", "pw", actor=CONSOLE)
    assert deliver(db, MESSAGE, [alice.id, bob.id]).delivered == (alice.id, bob.id)
    report = deliver(db, MESSAGE, [alice.id, bob.id])
    assert (report.delivered, report.over_quota) == ((alice.id,), (bob.id,))
    assert deliver(db, MESSAGE, [bob.id]).over_quota == (bob.id,)
    assert counters(db, bob.address) == (len(MESSAGE), 1)
    assert files(db, bob.address, "tmp") == []
    assert get_domain(db, "example.com", actor=CONSOLE).used_bytes == 3 * len(MESSAGE)


def test_racing_deliveries_never_overrun_the_quota(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    box = create_mailbox(db, "race@example.com", "pw", quota_bytes=10 * len(MESSAGE), actor=CONSOLE)
    start = threading.Barrier(20)
    reports, errors = [], []

    def one_delivery() -> None:
        start.wait()
        try:
            reports.append(deliver(db, MESSAGE, [box.id]))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=one_delivery) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(1 for r in reports if r.delivered) == 10
    assert sum(1 for r in reports if r.over_quota) == 10
    assert counters(db, box.address) == (10 * len(MESSAGE), 10)
    assert len(files(db, box.address, "new")) == 10 and files(db, box.address, "tmp") == []
    assert [r.changed for r in recalc_quota(db, box.address)] == [False]
    assert get_domain(db, "example.com", actor=CONSOLE).used_bytes == 10 * len(MESSAGE)


def fail_for(monkeypatch: pytest.MonkeyPatch, name: str, victim: Path) -> None:
    """Make maildirs.<name> raise an I/O error when it touches `victim`'s Maildir."""
    real = getattr(maildirs, name)

    def failing(*args: object) -> object:
        if any(str(victim) in str(getattr(arg, "maildir", arg)) for arg in args):
            raise OSError(5, "Input/output error")
        return real(*args)

    monkeypatch.setattr(maildirs, name, failing)


@pytest.mark.parametrize("failing_step", ["write_pending", "publish", "fsync_directory"])
def test_io_failure_delivers_nothing_anywhere(
    db: Database, boxes: tuple[MailboxView, MailboxView], monkeypatch: pytest.MonkeyPatch, failing_step: str
) -> None:
    alice, bob = boxes
    deliver(db, MESSAGE, [alice.id, bob.id])
    before = {box.address: (files(db, box.address, "new"), counters(db, box.address)) for box in boxes}
    fail_for(monkeypatch, failing_step, maildir(db, bob.address))
    with pytest.raises(TemporaryFailure):
        deliver(db, MESSAGE, [alice.id, bob.id])
    for box in boxes:
        assert (files(db, box.address, "new"), counters(db, box.address)) == before[box.address]
        assert files(db, box.address, "tmp") == []
    assert get_domain(db, "example.com", actor=CONSOLE).used_bytes == 2 * len(MESSAGE)


def test_database_failure_delivers_nothing(db: Database, boxes: tuple[MailboxView, MailboxView], monkeypatch: pytest.MonkeyPatch) -> None:
    alice, bob = boxes

    def broken(*_args: object) -> dict[int, str]:
        raise OperationalError("UPDATE mailbox", {}, Exception("connection lost"))

    monkeypatch.setattr(quota, "reserve", broken)
    with pytest.raises(TemporaryFailure):
        deliver(db, MESSAGE, [alice.id, bob.id])
    for box in boxes:
        assert files(db, box.address, "new") == files(db, box.address, "tmp") == []
        assert counters(db, box.address) == (0, 0)


def test_unknown_mailbox_id_is_a_temporary_failure(db: Database, boxes: tuple[MailboxView, MailboxView]) -> None:
    alice, _ = boxes
    with pytest.raises(TemporaryFailure):
        deliver(db, MESSAGE, [alice.id, 999_999])
    assert files(db, alice.address, "new") == files(db, alice.address, "tmp") == []


def test_deliveries_and_pop3_deletes_racing_neither_deadlock_nor_drift(db: Database) -> None:
    """Multi-recipient deliveries lock several mailboxes and their domain; POP3 deletes lock one
    mailbox and the domain. In different orders they deadlock on PostgreSQL."""
    create_domain(db, "example.com", quota_bytes=10**9, actor=CONSOLE)
    boxes = [create_mailbox(db, f"user{n}@example.com", "pw", actor=CONSOLE) for n in range(3)]
    errors: list[str] = []

    def delivering() -> None:
        for _ in range(10):
            try:
                deliver(db, MESSAGE, [box.id for box in boxes])
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(exc))

    def emptying(address: str) -> None:
        for _ in range(10):
            try:
                drop = open_maildrop(db, address, f"pop3-{address}")
                commit_deletes(db, drop, f"pop3-{address}", [m.uid for m in drop.messages])
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(exc))

    threads = [threading.Thread(target=delivering) for _ in range(3)]
    threads += [threading.Thread(target=emptying, args=(box.address,)) for box in boxes[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert [r.address for r in recalc_quota(db) if r.changed] == []
    assert get_mailbox(db, boxes[0].address, actor=CONSOLE).messages == 30
    assert get_domain(db, "example.com", actor=CONSOLE).used_bytes == sum(get_mailbox(db, box.address, actor=CONSOLE).used_bytes for box in boxes)


def test_junk_copies_go_to_the_junk_folder_and_count_in_the_quota(
    db: Database, boxes: tuple[MailboxView, MailboxView]
) -> None:
    alice, bob = boxes
    report = deliver(db, MESSAGE, [alice.id, bob.id], return_path="", junk_ids={bob.id})
    assert report.delivered == (alice.id, bob.id)
    assert len(files(db, alice.address, "new")) == 1 and not (maildir(db, alice.address) / ".Junk").exists()
    assert files(db, bob.address, "new") == [] and len(files(db, bob.address, ".Junk/new")) == 1
    assert counters(db, bob.address) == counters(db, alice.address) == (len(MESSAGE) + len(b"Return-Path: <>\r\n"), 1)
    assert [m.uid for m in maildirs.list_messages(maildir(db, bob.address))] == []  # POP3 serves the inbox only
    assert not any(repair.changed for repair in recalc_quota(db))  # the counters match every folder on disk
