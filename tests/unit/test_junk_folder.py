"""The Junk folder on disk: ids that survive Dovecot's renames, heads read without bodies,
a release that keeps the inode and never replaces a message, a removal that says what it freed."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from shared.errors import Conflict, NotFound
from shared.storage import junk_folder, maildirs

MESSAGE = b"Subject: hi\r\nX-Spam-Score: 7\r\n\r\n" + b"body line\r\n" * 1000


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    path = tmp_path / "example.com" / "alice"
    maildirs.create_maildir(path)
    return path


def junk(maildir: Path, data: bytes = MESSAGE) -> Path:
    return maildirs.publish(maildirs.write_pending(maildir / ".Junk", data))


def test_ids_are_uidls_and_survive_a_rename_into_cur(maildir: Path) -> None:
    stored = junk(maildir)
    uid = maildirs.uid_of(stored.name)
    flagged = stored.parent.parent / "cur" / f"{stored.name}:2,S"
    os.rename(stored, flagged)
    assert junk_folder.find_junk(maildir, uid) == flagged
    [listed], total = junk_folder.list_junk(maildir, 10)
    assert total == 1 and (listed.id, listed.size, listed.location) == (uid, len(MESSAGE), str(flagged))
    assert listed.head == b"Subject: hi\r\nX-Spam-Score: 7\r\n"  # the body is not read


def test_a_foreign_name_with_odd_characters_gets_a_digest_id(maildir: Path) -> None:
    maildirs.create_maildir(maildir / ".Junk")
    odd = maildir / ".Junk" / "cur" / "1733.M1P2.host?x=1#y:2,S"
    odd.write_bytes(MESSAGE)
    [listed], _total = junk_folder.list_junk(maildir, 10)
    assert junk_folder.is_junk_id(listed.id) and len(listed.id) == 40
    assert junk_folder.find_junk(maildir, listed.id) == odd


def test_the_head_stops_at_its_limit() -> None:
    endless = io.BytesIO(b"X-Long: " + b"a" * (3 * junk_folder.HEAD_LIMIT) + b"\r\n\r\nbody")
    assert len(junk_folder.read_head(endless)) < junk_folder.HEAD_LIMIT
    folded = io.BytesIO(b"Subject: x\r\n" + b" more\r\n" * 20000 + b"\r\nbody")
    assert len(junk_folder.read_head(folded)) < junk_folder.HEAD_LIMIT


def test_listing_is_newest_first_and_bounded(maildir: Path) -> None:
    ids = [maildirs.uid_of(junk(maildir).name) for _ in range(5)]
    listed, total = junk_folder.list_junk(maildir, 3)
    assert [entry.id for entry in listed] == sorted(ids, reverse=True)[:3] and total == 5


def test_release_keeps_the_inode_drops_the_flags_and_never_replaces(maildir: Path) -> None:
    stored = junk(maildir)
    flagged = stored.parent.parent / "cur" / f"{stored.name}:2,S"
    os.rename(stored, flagged)
    inode = flagged.stat().st_ino
    released = junk_folder.release_to_inbox(maildir, flagged)
    assert released == maildir / "new" / stored.name and released.stat().st_ino == inode and not flagged.exists()
    again = junk(maildir)
    os.link(released, maildir / "new" / again.name)  # a message of that name is in the inbox already
    with pytest.raises(Conflict):
        junk_folder.release_to_inbox(maildir, again)
    assert again.read_bytes() == MESSAGE  # nothing was replaced, nothing lost
    with pytest.raises(NotFound):
        junk_folder.release_to_inbox(maildir, maildir / ".Junk" / "new" / "gone")


def test_remove_returns_the_size_once(maildir: Path) -> None:
    stored = junk(maildir)
    assert junk_folder.remove_junk(stored) == len(MESSAGE) and not stored.exists()
    with pytest.raises(NotFound):
        junk_folder.remove_junk(stored)
    with pytest.raises(NotFound):
        junk_folder.find_junk(maildir, maildirs.uid_of(stored.name))
