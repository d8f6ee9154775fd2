"""One quota truth: Dovecot enforces the mailbox's quota on what it counts in every folder, and
its totals become our counters (quota_clone -> imap_usage -> triggers), so the listings show
what is on disk and SMTP's room checks count what IMAP stored."""
from __future__ import annotations

import dataclasses
import imaplib
import smtplib
import uuid
from collections.abc import Callable

import pytest

from shared.accounts import create_domain, create_mailbox, get_domain, get_mailbox
from shared.accounts.views import CONSOLE
from shared.storage.db import Database
from shared.storage.maildirs import disk_usage
from tests.integration.pop3.support import deliver_to
from tests.integration.smtp.support import RunningSmtp

from .conftest import ImapWorld
from .support import PASSWORD, login, within_contract

pytestmark = pytest.mark.integration
MESSAGE = b"Subject: filed\r\nFrom: a@remote.example\r\n\r\n" + (b"x" * 98 + b"\r\n") * 10


def new_domain_mailbox(world: ImapWorld, quota_bytes: int = 0) -> tuple[str, int]:
    """A mailbox alone in a domain of its own, so the domain's total is this mailbox's bytes."""
    domain = f"q{uuid.uuid4().hex[:8]}.example"
    create_domain(world.db, domain, actor=CONSOLE)
    view = create_mailbox(world.db, f"user@{domain}", PASSWORD, quota_bytes=quota_bytes, actor=CONSOLE)
    return view.address, view.id


def counters(world: ImapWorld, address: str) -> tuple[int, int, int]:
    """(used bytes, messages, the domain's used bytes) as `beaconmail mailbox list` shows them."""
    view = get_mailbox(world.db, address, actor=CONSOLE)
    return view.used_bytes, view.messages, get_domain(world.db, address.split("@")[1], actor=CONSOLE).used_bytes


def on_disk(world: ImapWorld, address: str) -> tuple[int, int, int]:
    used, messages = disk_usage(world.settings.mail_root / address.split("@")[1] / "user")
    return used, messages, used


def counters_match_disk(world: ImapWorld, address: str) -> Callable[[], bool]:
    return lambda: counters(world, address) == on_disk(world, address)


def status(reply: tuple[str, list[object]]) -> str:
    return reply[0]


def test_getquotaroot_inbox_reports_the_mailbox_quota(imap_world: ImapWorld) -> None:
    address, mailbox_id = new_domain_mailbox(imap_world, quota_bytes=100 * 1024)
    deliver_to(imap_world.db, mailbox_id, MESSAGE)
    with login(imap_world.settings, address, PASSWORD) as client:
        typ, data = client.getquotaroot("INBOX")
    assert typ == "OK"
    used_kib = -(-on_disk(imap_world, address)[0] // 1024)  # RFC 9208 counts storage in units of 1024 octets, rounded up
    assert f"(STORAGE {used_kib} 100)".encode() in b" ".join(line for part in data for line in part)  # type: ignore[union-attr]


def test_append_and_copy_past_the_quota_are_refused(imap_world: ImapWorld) -> None:
    address, mailbox_id = new_domain_mailbox(imap_world, quota_bytes=int(len(MESSAGE) * 1.5))
    deliver_to(imap_world.db, mailbox_id, MESSAGE)  # by our SMTP: Dovecot counts it too
    with login(imap_world.settings, address, PASSWORD) as client:
        typ, data = client.append("Sent", "", None, MESSAGE)
        assert typ == "NO" and b"[OVERQUOTA]" in data[0]  # type: ignore[operator]
        client.select("INBOX")
        typ, data = client.uid("COPY", "1:*", "Trash")
        assert typ == "NO" and b"[OVERQUOTA]" in data[0]  # type: ignore[operator]
    assert on_disk(imap_world, address)[1] == 1  # nothing was stored
    assert counters(imap_world, address) == on_disk(imap_world, address)


def test_counters_equal_the_disk_after_append_copy_move_expunge(imap_world: ImapWorld) -> None:
    """Each change in a session of its own, which ends with quota_clone's write as well as our
    recount (the next test keeps one session open)."""
    address, mailbox_id = new_domain_mailbox(imap_world)
    deliver_to(imap_world.db, mailbox_id, MESSAGE, MESSAGE)
    steps: list[Callable[[imaplib.IMAP4], object]] = [
        lambda c: c.append("Sent", "", None, MESSAGE + b"sent\r\n"),
        lambda c: (c.select("INBOX"), c.uid("COPY", "1", "Trash")),
        lambda c: (c.select("INBOX"), c.uid("MOVE", "2", "Junk")),
        lambda c: (c.select("Sent"), c.uid("STORE", "1:*", "+FLAGS", "(\\Deleted)"), c.expunge()),
        lambda c: (c.select("Trash"), c.uid("STORE", "1:*", "+FLAGS", "(\\Deleted)"), c.expunge()),
    ]
    expected_messages = [3, 4, 4, 3, 2]
    for step, messages in zip(steps, expected_messages, strict=True):
        with login(imap_world.settings, address, PASSWORD) as client:
            step(client)
        assert on_disk(imap_world, address)[1] == messages
        assert within_contract(counters_match_disk(imap_world, address)), (counters(imap_world, address), on_disk(imap_world, address))


def test_counters_follow_a_session_that_stays_open(imap_world: ImapWorld) -> None:
    """Every command that stores or removes, in one session that stays open: quota_clone alone
    would write the totals ten seconds after the first change; Dovecot's event for each command
    makes us recount at once. Plain and UID forms, and CLOSE, which expunges too."""
    address, mailbox_id = new_domain_mailbox(imap_world)
    deliver_to(imap_world.db, mailbox_id, MESSAGE, MESSAGE)
    steps: list[Callable[[imaplib.IMAP4], object]] = [
        lambda c: c.append("Sent", "", None, MESSAGE + b"sent\r\n"),
        lambda c: (c.select("INBOX"), c.copy("1", "Trash")),
        lambda c: c.uid("COPY", "1:*", "Drafts"),
        lambda c: c.uid("MOVE", "1", "Junk"),
        lambda c: (c.select("Junk"), c.xatom("MOVE", "1", "INBOX")),
        lambda c: (c.select("Drafts"), c.store("1", "+FLAGS", "(\\Deleted)"), c.expunge()),
        lambda c: (c.uid("STORE", "1:*", "+FLAGS", "(\\Deleted)"), c.uid("EXPUNGE", "1:*")),
        lambda c: (c.select("Trash"), c.store("1", "+FLAGS", "(\\Deleted)"), c.close()),
    ]
    expected_messages = [3, 4, 6, 6, 6, 5, 4, 3]
    with login(imap_world.settings, address, PASSWORD) as client:
        for step, messages in zip(steps, expected_messages, strict=True):
            before = counters(imap_world, address)
            step(client)
            assert on_disk(imap_world, address)[1] == messages
            if before != on_disk(imap_world, address):
                assert within_contract(counters_match_disk(imap_world, address)), (counters(imap_world, address), on_disk(imap_world, address))


def test_smtp_refuses_mail_for_a_mailbox_imap_uploads_filled(imap_world: ImapWorld) -> None:
    address, _mailbox_id = new_domain_mailbox(imap_world, quota_bytes=2 * len(MESSAGE) + 100)
    with login(imap_world.settings, address, PASSWORD) as client:
        for _ in range(2):
            assert status(client.append("Sent", "", None, MESSAGE)) == "OK"
    assert within_contract(lambda: counters(imap_world, address)[0] == 2 * len(MESSAGE))
    server = RunningSmtp(Database(dataclasses.replace(imap_world.settings, hostname="mx.imap.example")))
    try:
        with smtplib.SMTP("127.0.0.1", server.mx, timeout=30) as smtp:
            smtp.ehlo("client.example")
            smtp.mail("sender@remote.example")
            code, text = smtp.rcpt(address)
            if code == 250:  # a recipient cache may not know yet: then DATA finds no room
                code, text = smtp.data(MESSAGE)
            assert (code, text[:5]) == (452, b"4.2.2"), text  # one reply, at RCPT or at end of data
    finally:
        server.stop()
        server.db.dispose()
    assert on_disk(imap_world, address)[1] == 2
