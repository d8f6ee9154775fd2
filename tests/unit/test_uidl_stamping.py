"""The upgrade pass of `beaconmail init`: messages stored before the UIDL attribute get the UIDL of
their current name kept on them, once, so a later IMAP move and back keeps what POP3 listed."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from shared.storage import maildirs, uidl_stamping
from shared.storage.uidl_stamping import STAMPED_MARKER, keep_uidls_of_old_messages
from tests.conftest import require_user_attributes

OLD_DELIVERY = "1700000000.M000001P42Q1Rdeadbeef.mx,S=5"  # our delivery's name shape, before the attribute
DOVECOT_NAME = "1796564345.M757064P6840.vm,S=55,W=55:2,"  # an IMAP APPEND, never listed by POP3


@pytest.fixture
def mail_root(tmp_path: Path) -> Path:
    require_user_attributes(tmp_path)
    return tmp_path / "mail"


def old_message(folder: Path, name: str, sub: str = "cur") -> Path:
    """A message file as stored before the attribute: no UIDL kept on it."""
    maildirs.create_maildir(folder)
    path = folder / sub / name
    path.write_bytes(b"hello")
    return path


def kept(path: Path) -> str | None:
    try:
        return os.getxattr(path, maildirs.UIDL_ATTRIBUTE).decode()
    except OSError as exc:
        assert exc.errno == errno.ENODATA
        return None


def test_old_messages_in_every_folder_get_their_names_uidl(mail_root: Path) -> None:
    alice = mail_root / "example.com" / "alice"
    files = [
        old_message(alice, OLD_DELIVERY, "new"),
        old_message(alice, DOVECOT_NAME),
        old_message(alice / ".Archive", OLD_DELIVERY.replace("Q1", "Q2")),
        old_message(mail_root / "other.example" / "bob" / ".a.b", DOVECOT_NAME),
    ]
    assert keep_uidls_of_old_messages(mail_root) == 4
    for path in files:
        assert kept(path) == maildirs.uid_of(path.name)  # what POP3 lists for it: nothing it saw changes
        assert maildirs.uid_of(path.name) in {m.uid for m in maildirs.list_messages(path.parent.parent)}
    assert (mail_root / STAMPED_MARKER).is_file()


def test_a_kept_uidl_is_never_replaced(mail_root: Path) -> None:
    moved_back = old_message(mail_root / "example.com" / "alice", DOVECOT_NAME)
    os.setxattr(moved_back, maildirs.UIDL_ATTRIBUTE, b"the-uidl-pop3-listed")
    assert keep_uidls_of_old_messages(mail_root) == 0
    assert kept(moved_back) == "the-uidl-pop3-listed"


def test_a_link_shared_with_a_delivery_name_keeps_the_delivery_uidl(mail_root: Path) -> None:
    """An IMAP COPY within the folder before the attribute, never listed since: two names, one
    inode. The delivery name's UIDL goes on it, and each name still lists by its own UIDL."""
    original = old_message(mail_root / "example.com" / "alice", OLD_DELIVERY)
    copy_name = "1000000000.M1P1.vm,S=5:2,"  # sorts before the delivery name
    os.link(original, original.with_name(copy_name))
    assert keep_uidls_of_old_messages(mail_root) == 1
    assert kept(original) == maildirs.uid_of(OLD_DELIVERY)
    listed = {m.uid for m in maildirs.list_messages(original.parent.parent)}
    assert listed == {maildirs.uid_of(OLD_DELIVERY), maildirs.uid_of(copy_name)}


def test_the_walk_is_done_once(mail_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old_message(mail_root / "example.com" / "alice", OLD_DELIVERY)
    assert keep_uidls_of_old_messages(mail_root) == 1
    later = old_message(mail_root / "example.com" / "carol", DOVECOT_NAME)

    def walked(_folder: Path) -> int:
        raise AssertionError("walked again")

    monkeypatch.setattr(uidl_stamping, "stamp_uidls", walked)
    assert keep_uidls_of_old_messages(mail_root) == 0
    assert kept(later) is None  # the marker skips the walk; POP3's listing keeps one on such a name


def test_the_outbound_queue_is_no_maildir(mail_root: Path) -> None:
    queued = old_message(mail_root / ".outbound" / "queue", OLD_DELIVERY)
    assert keep_uidls_of_old_messages(mail_root) == 0
    assert kept(queued) is None


@pytest.mark.parametrize("code", [errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EACCES])
def test_without_user_attributes_it_stops_quietly_and_asks_again_next_time(
    mail_root: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    old_message(mail_root / "example.com" / "alice", OLD_DELIVERY)

    def refused(*_args: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(maildirs.os, "setxattr", refused)
    assert keep_uidls_of_old_messages(mail_root) == 0
    assert not (mail_root / STAMPED_MARKER).exists()


def test_another_failure_is_raised(mail_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old_message(mail_root / "example.com" / "alice", OLD_DELIVERY)

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(maildirs.os, "setxattr", full)
    with pytest.raises(OSError):
        keep_uidls_of_old_messages(mail_root)
    assert not (mail_root / STAMPED_MARKER).exists()


def test_an_empty_or_missing_mail_root(mail_root: Path) -> None:
    mail_root.mkdir()
    assert keep_uidls_of_old_messages(mail_root) == 0
    assert (mail_root / STAMPED_MARKER).is_file()  # a new install: every message to come carries one
