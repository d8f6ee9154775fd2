"""maildirs.remove_stale_tmp, run when POP3 opens a maildrop: orphans of killed deliveries go
after 36 hours (the Maildir convention), anything younger may be a delivery in progress."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from shared.storage import maildirs

HOUR = 3600


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    path = tmp_path / "example.com" / "alice"
    maildirs.create_maildir(path)
    return path


def aged(path: Path, data: bytes, *, accessed: float, modified: float) -> Path:
    """`path` written, then given times that many seconds in the past."""
    path.write_bytes(data)
    now = time.time()
    os.utime(path, (now - accessed, now - modified))
    return path


def test_only_tmp_files_untouched_for_36_hours_are_removed(maildir: Path) -> None:
    stale = aged(maildir / "tmp" / "stale", b"x", accessed=37 * HOUR, modified=37 * HOUR)
    young = aged(maildir / "tmp" / "young", b"x", accessed=35 * HOUR, modified=35 * HOUR)
    read_lately = aged(maildir / "tmp" / "read", b"x", accessed=HOUR, modified=40 * HOUR)
    in_progress = maildirs.write_pending(maildir, b"Subject: being delivered\r\n\r\n")
    delivered = aged(maildir / "new" / "old-message", b"x", accessed=40 * HOUR, modified=40 * HOUR)
    (maildir / "tmp" / "subdir").mkdir()
    os.utime(maildir / "tmp" / "subdir", (0, 0))

    assert maildirs.remove_stale_tmp(maildir) == 1
    assert not stale.exists()
    assert young.exists() and read_lately.exists() and os.path.exists(in_progress.tmp_path)
    assert delivered.exists() and (maildir / "tmp" / "subdir").is_dir()
    assert maildirs.remove_stale_tmp(maildir) == 0


def test_a_pending_delivery_is_published_after_the_cleanup(maildir: Path) -> None:
    pending = maildirs.write_pending(maildir, b"Subject: hi\r\n\r\n")
    maildirs.remove_stale_tmp(maildir)
    maildirs.publish(pending)
    assert [message.size for message in maildirs.list_messages(maildir)] == [pending.size]


def test_a_maildir_without_tmp_has_nothing_to_clean(tmp_path: Path) -> None:
    assert maildirs.remove_stale_tmp(tmp_path / "missing") == 0
