"""POP3 UIDLs kept on the inode: a message Dovecot hard-links under a name of its own (an IMAP
MOVE and back, a COPY) keeps the UIDL it had; UIDLs stay unique and within RFC 1939."""
from __future__ import annotations

import errno
import os
from pathlib import Path
from unittest import mock

import pytest

from shared.storage import maildirs
from tests.conftest import require_user_attributes

# Names Dovecot 2.3 gave in a real MOVE-and-back and an APPEND (tests/integration/imap).
DOVECOT_NAME = "1796564345.M757064P6840.vm,S=55,W=55:2,"
APPENDED_NAME = "1796564345.M760570P6840.vm,S=14,W=17:2,S"


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    path = tmp_path / "example.com" / "alice"
    maildirs.create_maildir(path)
    require_user_attributes(path / "tmp")
    return path


def deliver(maildir: Path, data: bytes = b"Subject: hi\r\n\r\nbody\r\n") -> Path:
    return maildirs.publish(maildirs.write_pending(maildir, data))


def dovecot_link(source: Path, name: str, *, keep_source: bool = False) -> Path:
    """What Dovecot's Maildir MOVE (link, unlink) or COPY (link) leaves in cur/."""
    target = source.parent.parent / "cur" / name
    os.link(source, target)
    if not keep_source:
        source.unlink()
    return target


def uidls(maildir: Path) -> dict[str, bytes]:
    return {message.uid: message.path.read_bytes() for message in maildirs.list_messages(maildir)}


def test_our_names_are_recognised_and_others_are_not(maildir: Path) -> None:
    name = maildirs.write_pending(maildir, b"x").name
    assert maildirs.is_delivery_name(name) and maildirs.is_delivery_name(name + ":2,S")
    for other in (DOVECOT_NAME, APPENDED_NAME, "1700000000.V801I2M3.mx.example.com,S=10", "1.M1.legacy"):
        assert not maildirs.is_delivery_name(other)


def test_delivery_keeps_the_uidl_of_its_name_on_the_file(maildir: Path) -> None:
    path = deliver(maildir)
    assert os.getxattr(path, maildirs.UIDL_ATTRIBUTE).decode() == maildirs.uid_of(path.name)


def test_a_move_and_back_keeps_the_uidl(maildir: Path) -> None:
    first, second = deliver(maildir, b"one\r\n"), deliver(maildir, b"two\r\n")
    before = uidls(maildir)
    dovecot_link(first, DOVECOT_NAME)
    assert uidls(maildir) == before
    assert maildirs.uid_of(second.name) in before


def test_listing_our_names_reads_no_attribute(maildir: Path) -> None:
    """The common case (every message delivered by us) costs no system call per message."""
    deliver(maildir), deliver(maildir)
    read = deliver(maildir)
    os.rename(read, maildir / "cur" / (read.name + ":2,S"))  # as Dovecot leaves what a client read
    with mock.patch.object(maildirs.os, "getxattr", side_effect=AssertionError("read an attribute")):
        assert len(maildirs.list_messages(maildir)) == 3


def test_a_copy_within_the_folder_gets_its_own_uidl_every_time(maildir: Path) -> None:
    original = deliver(maildir)
    dovecot_link(original, DOVECOT_NAME, keep_source=True)
    listed = uidls(maildir)
    assert set(listed) == {maildirs.uid_of(original.name), maildirs.uid_of(DOVECOT_NAME)}
    assert uidls(maildir) == listed


def test_two_foreign_links_of_one_message_share_nothing_but_the_bytes(maildir: Path) -> None:
    """A copy, then the original moved out and back: both names are Dovecot's, both carry the
    attribute. One keeps the UIDL (deterministically), the other gets its own name's; either way
    the kept UIDL still names the same bytes."""
    original = deliver(maildir)
    uid = maildirs.uid_of(original.name)
    dovecot_link(original, "1796564346.M1P6840.vm,S=22,W=22:2,", keep_source=True)
    dovecot_link(original, "1796564347.M2P6840.vm,S=22,W=22:2,")
    listed = uidls(maildir)
    assert set(listed) == {uid, "1796564347.M2P6840.vm"}  # the first name by order keeps it
    assert set(listed.values()) == {b"Subject: hi\r\n\r\nbody\r\n"}
    assert uidls(maildir) == listed


def test_a_foreign_message_gets_the_uidl_of_its_name_kept_at_first_listing(maildir: Path) -> None:
    """An IMAP APPEND (no attribute): its UIDL is its name's, as before, and from the first
    listing on that UIDL survives a move and back too."""
    appended = maildir / "cur" / APPENDED_NAME
    appended.write_bytes(b"appended\r\n")
    before = uidls(maildir)
    assert list(before) == [maildirs.uid_of(APPENDED_NAME)]
    dovecot_link(appended, DOVECOT_NAME)
    assert uidls(maildir) == before


def test_a_copy_of_a_foreign_message_listed_for_the_first_time_keeps_both_names_uidls(maildir: Path) -> None:
    appended = maildir / "cur" / APPENDED_NAME
    appended.write_bytes(b"appended\r\n")
    dovecot_link(appended, DOVECOT_NAME, keep_source=True)  # same inode, no attribute yet
    assert set(uidls(maildir)) == {maildirs.uid_of(APPENDED_NAME), maildirs.uid_of(DOVECOT_NAME)}


@pytest.mark.parametrize("kept", [b"", b"x" * 71, b"with space", "caf\u00e9".encode(), b"\xff\xfe", b"tab\there"])
def test_a_kept_value_that_is_no_rfc1939_uidl_is_ignored(maildir: Path, kept: bytes) -> None:
    path = maildir / "cur" / DOVECOT_NAME
    path.write_bytes(b"m\r\n")
    os.setxattr(path, maildirs.UIDL_ATTRIBUTE, kept)
    assert list(uidls(maildir)) == [maildirs.uid_of(DOVECOT_NAME)]


def test_uidls_stay_unique_when_a_kept_one_takes_another_names(maildir: Path) -> None:
    taker, named = maildir / "cur" / DOVECOT_NAME, maildir / "cur" / APPENDED_NAME
    taker.write_bytes(b"taker\r\n")
    named.write_bytes(b"named\r\n")
    os.setxattr(taker, maildirs.UIDL_ATTRIBUTE, maildirs.uid_of(APPENDED_NAME).encode())
    os.setxattr(named, maildirs.UIDL_ATTRIBUTE, b"bad value")
    listed = uidls(maildir)
    assert listed[maildirs.uid_of(APPENDED_NAME)] == b"taker\r\n"
    assert len(listed) == 2 and all(maildirs.is_valid_uid(uid) and uid for uid in listed)
    assert uidls(maildir) == listed


def test_without_user_attributes_names_decide_as_before(maildir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unsupported(*_args: object) -> None:
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(maildirs.os, "setxattr", unsupported)
    monkeypatch.setattr(maildirs.os, "getxattr", unsupported)
    ours = deliver(maildir)
    (maildir / "cur" / APPENDED_NAME).write_bytes(b"appended\r\n")
    assert set(uidls(maildir)) == {maildirs.uid_of(ours.name), maildirs.uid_of(APPENDED_NAME)}


def test_a_delivery_fails_when_the_attribute_cannot_be_written_for_another_reason(
    maildir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(maildirs.os, "setxattr", full)
    with pytest.raises(OSError):
        maildirs.write_pending(maildir, b"data")
    assert os.listdir(maildir / "tmp") == []
