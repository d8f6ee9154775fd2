"""`beaconmail imap` runs Dovecot as its child: a stop reaches Dovecot, Dovecot's failure is
its exit code, and Dovecot does not outlive it."""
from __future__ import annotations

import dataclasses
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ImapWorld, running_world
from .support import environment

pytestmark = pytest.mark.integration
WAIT_SECONDS = 20.0


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[ImapWorld]:
    """A Dovecot of its own (the process tests stop or kill it): SQLite, which changes nothing here."""
    with running_world(request, "sqlite") as running:
        yield running


def dovecot_master(world: ImapWorld) -> int:
    (child,) = Path(f"/proc/{world.dovecot.process.pid}/task/{world.dovecot.process.pid}/children").read_text().split()
    assert Path(f"/proc/{child}/exe").resolve().name == "dovecot"
    return int(child)


def gone(pid: int) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z":
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_reaches_dovecot(world: ImapWorld, signum: int) -> None:
    """Dovecot stops on it and `beaconmail imap` ends with it (Dovecot's exit code, as when
    it was exec'd: 256 minus the signal's number)."""
    master = dovecot_master(world)
    world.dovecot.process.send_signal(signum)
    world.dovecot.process.wait(timeout=WAIT_SECONDS)
    assert gone(master)


def test_dovecot_does_not_outlive_a_killed_beaconmail_imap(world: ImapWorld) -> None:
    master = dovecot_master(world)
    world.dovecot.process.kill()
    world.dovecot.process.wait(timeout=WAIT_SECONDS)
    assert gone(master)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", world.settings.imaps_port), timeout=1).close()


def test_dovecot_that_cannot_start_is_a_failed_beaconmail_imap(world: ImapWorld, tmp_path: Path) -> None:
    """A second installation on the first one's ports: its Dovecot cannot listen and stops,
    and so does its `beaconmail imap`, with Dovecot's reason on stderr."""
    second = dataclasses.replace(world.settings, data_dir=tmp_path, mail_root=tmp_path / "mail")
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "imap"], env=environment(second),
        capture_output=True, text=True, timeout=WAIT_SECONDS,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Address already in use" in done.stderr, done.stderr


def test_a_second_beaconmail_imap_on_the_same_data_leaves_the_first_alone(world: ImapWorld) -> None:
    """It stops with one line before writing anything: the running Dovecot's configuration is
    untouched and it still answers."""
    config = world.settings.data_dir / "imap" / "dovecot.conf"
    before = config.stat().st_mtime_ns
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "imap"], env=environment(world.settings),
        capture_output=True, text=True, timeout=WAIT_SECONDS,
    )  # fmt: skip
    assert done.returncode != 0
    assert "another `beaconmail imap` is running" in done.stderr, done.stderr
    assert config.stat().st_mtime_ns == before
    with socket.create_connection(("127.0.0.1", world.settings.imap_port), timeout=5) as client:
        assert client.recv(100).startswith(b"* OK")
