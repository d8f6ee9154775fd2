"""SqliteWriterLock: one writer at a time across processes and threads, without SQLite's
busy-handler sleeps."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from shared.storage.db import SqliteWriterLock, sqlite_file

HOLD = 0.3  # long enough that a second writer not kept out would get in while the first holds


def record(log: Path, event: str) -> None:
    with log.open("a") as out:
        out.write(event + "\n")


def wait_for(log: Path, event: str) -> None:
    deadline = time.monotonic() + 10
    while not (log.exists() and event in log.read_text().split()):
        assert time.monotonic() < deadline, f"{event} never came"
        time.sleep(0.01)


def test_a_writer_in_another_process_waits_for_the_holder(tmp_path: Path) -> None:
    database, log = tmp_path / "beaconmail.db", tmp_path / "log"
    lock = SqliteWriterLock(database)
    with lock:  # used before the fork: the child must not share this process's open lock file
        pass
    child = os.fork()
    if child == 0:
        try:
            with lock:
                record(log, "child-in")
                time.sleep(HOLD)
                record(log, "child-out")
        finally:
            os._exit(0)
    wait_for(log, "child-in")
    with lock:
        record(log, "parent-in")
    os.waitpid(child, 0)
    assert log.read_text().split() == ["child-in", "child-out", "parent-in"]
    assert (tmp_path / "beaconmail.db.writer-lock").exists()


def test_writers_in_one_process_take_turns(tmp_path: Path) -> None:
    lock, log = SqliteWriterLock(tmp_path / "beaconmail.db"), tmp_path / "log"

    def hold() -> None:
        with lock:
            record(log, "first-in")
            time.sleep(HOLD)
            record(log, "first-out")

    first = threading.Thread(target=hold)
    first.start()
    wait_for(log, "first-in")
    with lock:
        record(log, "second-in")
    first.join()
    assert log.read_text().split() == ["first-in", "first-out", "second-in"]


def test_an_in_memory_database_needs_no_lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite://", "sqlite:///:memory:"):
        with SqliteWriterLock(sqlite_file(url)):
            pass
    assert list(tmp_path.iterdir()) == []
