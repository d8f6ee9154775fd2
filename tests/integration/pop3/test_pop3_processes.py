"""Separate pop3 processes on one database: SIGKILL after DELE deletes nothing, and the
lease of a killed holder expires so another replica can open the maildrop."""

from __future__ import annotations

import os
import poplib
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from shared.storage.db import Database

from .conftest import Accounts
from .support import ALICE, ALICE_PW, deliver_to

pytestmark = pytest.mark.integration

LISTENING = re.compile(r"POP3 listening on \S+ port (\d+) \(STLS\) and port (\d+)")
LEASE_SECONDS = 2


class Pop3Process:
    """`beaconmail pop3` in a child process."""

    def __init__(self, db: Database) -> None:
        settings = db.settings
        env = os.environ | {
            "BEACONMAIL_DATABASE_URL": settings.database_url,
            "BEACONMAIL_DATA_DIR": str(settings.data_dir),
            "BEACONMAIL_MAIL_ROOT": str(settings.mail_root),
            "BEACONMAIL_HOSTNAME": settings.hostname,
            "BEACONMAIL_SECRET_KEY": settings.secret_key,
            "BEACONMAIL_POP3_PORT": "0",
            "BEACONMAIL_POP3S_PORT": "0",
            "BEACONMAIL_ALLOW_PLAINTEXT_AUTH": "true",
            "BEACONMAIL_MAILDROP_LEASE_SECONDS": str(LEASE_SECONDS),
        }
        self.process = subprocess.Popen([sys.executable, "-m", "services.cli", "pop3"], env=env, stderr=subprocess.PIPE, text=True)
        self.port = 0

    def wait_until_listening(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if match := LISTENING.search(line):
                self.port = int(match.group(1))
                break
        else:
            pytest.fail(f"pop3 process exited with {self.process.wait()} before listening")
        threading.Thread(target=self.process.stderr.read, daemon=True).start()  # keep the pipe drained

    def login(self) -> poplib.POP3:
        client = poplib.POP3("127.0.0.1", self.port, timeout=10)
        client.user(ALICE)
        client.pass_(ALICE_PW)
        return client

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def processes(db: Database) -> Iterator[list[Pop3Process]]:
    started = [Pop3Process(db), Pop3Process(db)]  # both start up at the same time
    for process in started:
        process.wait_until_listening()
    yield started
    for process in started:
        if process.process.poll() is None:
            process.process.terminate()
            assert process.process.wait(timeout=10) == 0  # SIGTERM is a clean shutdown


def test_sigkill_after_dele_deletes_nothing_and_the_lease_expires(
    db: Database, accounts: Accounts, processes: list[Pop3Process]
) -> None:
    deliver_to(db, accounts.alice_id, b"Subject: 1\r\n\r\none\r\n", b"Subject: 2\r\n\r\ntwo\r\n")
    holder_process, replica = processes
    holder = holder_process.login()
    uids = holder.uidl()[1]
    holder.dele(1)
    holder.dele(2)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[IN-USE\]"):
        replica.login()
    holder_process.kill()
    killed_at = time.monotonic()
    while True:
        try:
            client = replica.login()
            break
        except poplib.error_proto as error:
            assert b"[IN-USE]" in error.args[0]
            assert time.monotonic() - killed_at < LEASE_SECONDS + 5, "the lease never expired"
            time.sleep(0.2)
    assert client.uidl()[1] == uids
    client.quit()
