"""IMAP and POP3 on the same Maildir: the same messages, byte for byte, the same deletions, and
POP3's UIDLs untouched by what an IMAP client does; new mail reaches an IDLEing client at once."""
from __future__ import annotations

import imaplib
import os
import time

import pytest

from shared.storage import maildirs
from shared.storage.uidl_stamping import STAMPED_MARKER, keep_uidls_of_old_messages
from tests.integration.pop3.support import RunningServer, deliver_to
from tests.integration.pop3.support import login as pop3_login

from .conftest import ImapWorld
from .support import PASSWORD, imap_messages, login, pop3_messages

pytestmark = pytest.mark.integration
MESSAGES = [f"Subject: message {n}\r\nFrom: a@remote.example\r\n\r\nbody {n}\r\n".encode() for n in range(3)]


def delivered(imap_world: ImapWorld, pop3: RunningServer) -> tuple[str, dict[str, bytes]]:
    """A new mailbox with MESSAGES delivered by our delivery: its address and what POP3 serves."""
    address, mailbox_id = imap_world.new_mailbox()
    deliver_to(imap_world.db, mailbox_id, *MESSAGES)
    return address, pop3_messages(pop3, address)


def move_to_junk_and_back(client: imaplib.IMAP4, uids: str) -> None:
    """Dovecot hard-links the files into .Junk, then back into INBOX under names of its own."""
    client.select("INBOX")
    client.uid("MOVE", uids, "Junk")
    client.select("Junk")
    client.uid("MOVE", "1:*", "INBOX")


def test_inbox_is_what_pop3_serves_and_uidls_survive_reading_and_flags(imap_world: ImapWorld, pop3: RunningServer) -> None:
    address, before = delivered(imap_world, pop3)
    with login(imap_world.settings, address, PASSWORD) as client:
        assert sorted(imap_messages(client)) == sorted(before.values())
        client.uid("FETCH", "1:*", "(BODY[])")  # read: Dovecot moves them to cur/ with :2,S
        client.uid("STORE", "1:*", "+FLAGS", "(\\Flagged \\Answered)")
    assert pop3_messages(pop3, address) == before


def test_uidls_survive_a_move_and_back(imap_world: ImapWorld, pop3: RunningServer) -> None:
    address, before = delivered(imap_world, pop3)
    with login(imap_world.settings, address, PASSWORD) as client:
        move_to_junk_and_back(client, "1")
        assert len(imap_messages(client)) == 3
    assert pop3_messages(pop3, address) == before


def test_a_message_stored_before_the_attribute_keeps_its_uidl_after_init(imap_world: ImapWorld, pop3: RunningServer) -> None:
    """Delivered before the UIDL attribute existed (so none on the files), then the upgrade's
    `beaconmail init` runs its stamping pass: a move and back then keeps what POP3 listed."""
    address, before = delivered(imap_world, pop3)
    maildir = imap_world.settings.mail_root / maildirs.maildir_relative_path(*address.split("@")[::-1])
    for message in maildirs.list_messages(maildir):
        os.removexattr(message.path, maildirs.UIDL_ATTRIBUTE)
    assert pop3_messages(pop3, address) == before  # our names: listed by name, no attribute written
    (imap_world.settings.mail_root / STAMPED_MARKER).unlink(missing_ok=True)  # as at the upgrade
    assert keep_uidls_of_old_messages(imap_world.settings.mail_root) >= len(MESSAGES)
    with login(imap_world.settings, address, PASSWORD) as client:
        move_to_junk_and_back(client, "1:*")
        assert len(imap_messages(client)) == 3
    assert pop3_messages(pop3, address) == before


def test_a_copy_within_inbox_gets_a_uidl_of_its_own(imap_world: ImapWorld, pop3: RunningServer) -> None:
    address, before = delivered(imap_world, pop3)
    with login(imap_world.settings, address, PASSWORD) as client:
        client.select("INBOX")
        client.uid("COPY", "1", "INBOX")  # a second hard link, with the first one's attribute
        assert len(imap_messages(client)) == 4
    after = pop3_messages(pop3, address)
    assert len(after) == 4 and after.items() >= before.items()
    (copy_uid,) = after.keys() - before.keys()
    assert after[copy_uid] in before.values()
    assert pop3_messages(pop3, address) == after  # and it keeps it


def test_an_appended_message_keeps_its_uidl_through_a_move_and_back(imap_world: ImapWorld, pop3: RunningServer) -> None:
    address, _mailbox_id = imap_world.new_mailbox()
    with login(imap_world.settings, address, PASSWORD) as client:
        client.append("INBOX", None, None, MESSAGES[0])
    before = pop3_messages(pop3, address)  # the first listing keeps the UIDL on the file
    with login(imap_world.settings, address, PASSWORD) as client:
        move_to_junk_and_back(client, "1")
    assert pop3_messages(pop3, address) == before


def test_deletes_go_both_ways(imap_world: ImapWorld, pop3: RunningServer) -> None:
    address, mailbox_id = imap_world.new_mailbox()
    deliver_to(imap_world.db, mailbox_id, *MESSAGES)
    client = pop3_login(pop3, address, PASSWORD)
    client.dele(1)
    client.quit()
    with login(imap_world.settings, address, PASSWORD) as imap:
        assert len(imap_messages(imap)) == 2
        imap.uid("STORE", imap.uid("SEARCH", "ALL")[1][0].split()[0], "+FLAGS", "(\\Deleted)")  # type: ignore[index]
        imap.expunge()
        remaining = imap_messages(imap)
    assert list(pop3_messages(pop3, address).values()) == remaining


def test_a_delivery_reaches_an_idle_client_within_two_seconds(imap_world: ImapWorld) -> None:
    address, mailbox_id = imap_world.new_mailbox()
    with login(imap_world.settings, address, PASSWORD) as client:
        client.select("INBOX")
        tag = client._new_tag().decode()  # imaplib has no IDLE before Python 3.14
        client.send(f"{tag} IDLE\r\n".encode())
        assert client.readline().startswith(b"+")
        began = time.monotonic()
        deliver_to(imap_world.db, mailbox_id, MESSAGES[0])
        line = client.readline()
        assert b"EXISTS" in line and time.monotonic() - began < 2.0, line
        client.send(b"DONE\r\n")
        while not client.readline().startswith(tag.encode()):
            pass
