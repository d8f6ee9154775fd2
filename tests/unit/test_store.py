"""The Maildir store: durable write, visibility only by rename, listing, removal."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.storage import maildirs


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    path = tmp_path / "example.com" / "alice"
    maildirs.create_maildir(path)
    return path


def names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_create_maildir_makes_the_three_folders(maildir: Path) -> None:
    assert all((maildir / sub).is_dir() for sub in ("tmp", "new", "cur"))
    maildirs.create_maildir(maildir)  # twice is fine


def test_relative_path_is_domain_then_safe_local(tmp_path: Path) -> None:
    assert maildirs.maildir_relative_path("example.com", "alice") == "example.com/alice"
    assert maildirs.maildir_relative_path("example.com", "a+b") == "example.com/a+b"
    for hostile in ("../../etc", "a/b", ".hidden", "josé"):
        relative = maildirs.maildir_relative_path("example.com", hostile)
        domain, _, component = relative.partition("/")
        assert domain == "example.com" and "/" not in component and not component.startswith(".")
        assert (tmp_path / relative).resolve().parent == (tmp_path / "example.com").resolve()


def test_pending_message_is_invisible_until_published(maildir: Path) -> None:
    pending = maildirs.write_pending(maildir, b"Subject: hi\r\n\r\nbody\r\n")
    assert names(maildir / "tmp") == [pending.name]
    assert names(maildir / "new") == []
    assert maildirs.list_messages(maildir) == []
    final = maildirs.publish(pending)
    assert final == maildir / "new" / pending.name
    assert names(maildir / "tmp") == []
    assert final.read_bytes() == b"Subject: hi\r\n\r\nbody\r\n"


def test_unique_name_carries_the_size_and_differs_each_time(maildir: Path) -> None:
    first = maildirs.write_pending(maildir, b"x" * 123)
    second = maildirs.write_pending(maildir, b"x" * 123)
    assert first.name.endswith(",S=123") and first.size == 123
    assert first.name != second.name
    assert "/" not in first.name and ":" not in first.name


def test_write_pending_recreates_a_missing_maildir(tmp_path: Path) -> None:
    maildir = tmp_path / "example.com" / "gone"
    pending = maildirs.write_pending(maildir, b"data\r\n")
    assert maildirs.publish(pending).exists()


def test_list_messages_sees_new_and_cur_oldest_first(maildir: Path) -> None:
    published = [maildirs.publish(maildirs.write_pending(maildir, f"message {n}\r\n".encode())) for n in range(3)]
    seen = published[1].parent.parent / "cur" / (published[1].name + ":2,S")
    os.rename(published[1], seen)
    (maildir / "new" / ".hidden").write_bytes(b"ignored")
    listed = maildirs.list_messages(maildir)
    assert [m.uid for m in listed] == [p.name.split(",")[0] for p in published]
    assert [m.size for m in listed] == [len(f"message {n}\r\n") for n in range(3)]
    assert listed[1].path == seen


def test_uid_drops_the_maildir_info_part() -> None:
    assert maildirs.uid_of("1700000000.M1P2Q3.host,S=10:2,S") == "1700000000.M1P2Q3.host"
    assert maildirs.uid_of("1700000000.M1P2Q3.host,S=10") == "1700000000.M1P2Q3.host"


def test_long_or_odd_names_get_a_short_stable_uid() -> None:
    long_name = "1700000000.M1P2Q3." + "h" * 80 + ",S=10:2,S"
    uid = maildirs.uid_of(long_name)
    assert len(uid) <= 70 and uid == maildirs.uid_of(long_name.replace(":2,S", ":2,"))
    assert maildirs.uid_of("1700000000.M1 P2.host") != "1700000000.M1 P2.host"


def test_fresh_names_make_rfc1939_uids(tmp_path: Path) -> None:
    pending = maildirs.write_pending(tmp_path / "box", b"x" * 10_000_000)
    uid = maildirs.uid_of(pending.name)
    assert uid == pending.name.split(",")[0] and len(uid) <= 70


def test_size_without_name_hint_comes_from_the_file(maildir: Path) -> None:
    (maildir / "new" / "1.M1.legacy").write_bytes(b"12345")
    assert [m.size for m in maildirs.list_messages(maildir)] == [5]


def test_disk_usage_counts_inbox_and_every_maildirplus_folder(maildir: Path) -> None:
    maildirs.publish(maildirs.write_pending(maildir, b"inbox\r\n"))
    for folder in (".Sent", ".Archive.2024"):
        maildirs.publish(maildirs.write_pending(maildir / folder, b"filed\r\n"))
    (maildir / ".Drafts" / "cur").mkdir(parents=True)  # an empty folder
    (maildir / ".not-a-folder").write_bytes(b"a file, as Dovecot's own state files are")
    assert maildirs.disk_usage(maildir) == (len(b"inbox\r\n") + 2 * len(b"filed\r\n"), 3)
    assert len(maildirs.list_messages(maildir)) == 1  # POP3's view stays INBOX


def test_list_of_missing_maildir_is_empty(tmp_path: Path) -> None:
    assert maildirs.list_messages(tmp_path / "nowhere") == []
    assert maildirs.disk_usage(tmp_path / "nowhere") == (0, 0)


def test_disk_usage_and_remove_messages(maildir: Path) -> None:
    paths = [maildirs.publish(maildirs.write_pending(maildir, b"y" * size)) for size in (10, 20, 30)]
    assert maildirs.disk_usage(maildir) == (60, 3)
    assert maildirs.remove_messages([paths[0], paths[2], paths[2]]) == 40
    assert maildirs.disk_usage(maildir) == (20, 1)


def test_discard_removes_a_pending_copy(maildir: Path) -> None:
    pending = maildirs.write_pending(maildir, b"z")
    maildirs.discard(pending.tmp_path)
    maildirs.discard(pending.tmp_path)
    assert names(maildir / "tmp") == []


def test_failed_write_leaves_nothing_in_tmp(maildir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(maildirs.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        maildirs.write_pending(maildir, b"data")
    assert names(maildir / "tmp") == []


def test_failed_directory_sync_leaves_the_message_invisible(maildir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pending = maildirs.write_pending(maildir, b"data\r\n")

    def failing_sync(path: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(maildirs, "fsync_directory", failing_sync)
    with pytest.raises(OSError):
        maildirs.publish(pending)
    assert names(maildir / "new") == []
    assert names(maildir / "tmp") == []
