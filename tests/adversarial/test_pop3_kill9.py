"""SIGKILL a pop3 process in the middle of a RETR, with other messages marked deleted: nothing
is deleted, the counters are untouched, and the killed holder's lease keeps the maildrop
closed to another replica only until it expires."""

from __future__ import annotations

import dataclasses
import hashlib
import poplib
import socket
import time

from e2e.processes import ProcessTracker
from integration.pop3.support import (
    ALICE,
    ALICE_PW,
    RawClient,
    RunningServer,
    deliver_to,
    login,
)

from shared.accounts import get_mailbox
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .conftest import Hosted
from .support import ServiceProcess, visible_files

LEASE_SECONDS = 3
BIG = b"Subject: big\r\n\r\n" + b"a line of a message too big for the socket buffers.....\r\n" * (8 * 1024**2 // 58)


def start_retr_and_stall(port: int) -> tuple[RawClient, list[bytes]]:
    """Log in, mark messages 1 and 2 deleted, start RETR 3 and stop reading after its first
    bytes: the server is left blocked in the middle of sending it. Returns the UIDL listing."""
    client = RawClient(port)
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    assert client.command(f"USER {ALICE}".encode()).startswith(b"+OK")
    assert client.command(f"PASS {ALICE_PW}".encode()).startswith(b"+OK maildrop has 3 messages")
    assert client.command(b"UIDL").startswith(b"+OK")
    listing = client.multiline()
    assert client.command(b"DELE 1").startswith(b"+OK")
    assert client.command(b"DELE 2").startswith(b"+OK")
    assert client.command(b"RETR 3").startswith(b"+OK")
    assert client.line() == b"Return-Path: <sender@remote.example>\r\n"
    time.sleep(0.3)  # the server fills the socket buffers and waits for the client
    return client, listing


def login_after_lease_expiry(replica: RunningServer, killed_at: float) -> poplib.POP3:
    """The killed holder's lease first refuses the login ([IN-USE]), then expires."""
    refused = 0
    while True:
        try:
            client = login(replica)
            break
        except poplib.error_proto as error:
            assert b"[IN-USE]" in error.args[0], error
            refused += 1
            assert time.monotonic() - killed_at < LEASE_SECONDS + 10, "the lease never expired"
            time.sleep(0.2)
    assert refused, "the lease of the killed process was not in force"
    return client


def test_sigkill_during_retr_after_dele_deletes_nothing(
    db: Database, hosted: Hosted, processes: ProcessTracker
) -> None:
    settings = dataclasses.replace(db.settings, maildrop_lease_seconds=LEASE_SECONDS, allow_plaintext_auth=True)
    deliver_to(db, hosted.ids[ALICE], b"Subject: one\r\n\r\n1\r\n", b"Subject: two\r\n\r\n2\r\n", BIG)
    files_before = {path.name: hashlib.sha256(path.read_bytes()).digest() for path in visible_files(settings, ALICE)}
    counters_before = get_mailbox(db, ALICE, actor=CONSOLE)
    pop3 = ServiceProcess("pop3", settings, processes)
    client, listing = start_retr_and_stall(pop3.start()["pop3"])
    pop3.kill()
    killed_at = time.monotonic()
    client.close()
    replica = RunningServer(dataclasses.replace(settings, pop3_port=0, pop3s_port=0))
    try:
        session = login_after_lease_expiry(replica, killed_at)
        assert session.uidl()[1] == [line.removesuffix(b"\r\n") for line in listing]
        _status, lines, _octets = session.retr(3)
        assert b"".join(line + b"\r\n" for line in lines) == b"Return-Path: <sender@remote.example>\r\n" + BIG
        session.quit()
    finally:
        replica.stop()
    files_after = {path.name: hashlib.sha256(path.read_bytes()).digest() for path in visible_files(settings, ALICE)}
    assert files_after == files_before
    assert get_mailbox(db, ALICE, actor=CONSOLE) == counters_before
