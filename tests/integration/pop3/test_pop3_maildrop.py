"""The maildrop across sessions and replicas: exclusive leases, expiry, heartbeat, big and odd messages."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import poplib
import re
import threading
import time
import tracemalloc

import pytest

from services.pop3.session import CHUNK_SIZE
from shared.accounts import create_mailbox
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.mail.maildrop import open_maildrop
from shared.storage.db import Database
from shared.storage.maildirs import maildir_relative_path

from .conftest import Accounts, StartServer
from .support import (
    ALICE,
    ALICE_PW,
    BOB,
    BOB_PW,
    DOMAIN,
    RawClient,
    RunningServer,
    client_context,
    corpus_dir,
    deliver_to,
    login,
    pop3_ssl,
)

pytestmark = pytest.mark.integration


def expect_in_use(server: RunningServer) -> None:
    client = pop3_ssl(server)
    client.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[IN-USE\]"):
        client.pass_(ALICE_PW)
    client.quit()


def test_a_second_replica_gets_in_use_until_the_first_quits(db: Database, accounts: Accounts,
                                                             start_pop3: StartServer) -> None:
    first, second = start_pop3(), start_pop3()
    holder = login(first)
    expect_in_use(second)
    client = pop3_ssl(second)
    client.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        client.pass_("wrong")  # no IN-USE oracle without the password
    holder.quit()
    login(second).quit()


def test_the_heartbeat_keeps_the_lease_while_the_session_lasts(db: Database, accounts: Accounts,
                                                               start_pop3: StartServer) -> None:
    first, second = start_pop3(maildrop_lease_seconds=1), start_pop3(maildrop_lease_seconds=1)
    holder = login(first)
    time.sleep(2.5)  # more than two lease periods
    expect_in_use(second)
    holder.noop()
    holder.quit()


def test_a_crashed_holder_locks_the_maildrop_only_until_the_lease_expires(
    db: Database, accounts: Accounts, start_pop3: StartServer
) -> None:
    server = start_pop3(maildrop_lease_seconds=1)
    crashed = Database(dataclasses.replace(db.settings, maildrop_lease_seconds=1))
    open_maildrop(crashed, ALICE, "pop3:crashed-host:1:dead")  # took the lease, then never renewed it
    crashed.dispose()
    expect_in_use(server)
    time.sleep(1.2)
    login(server).quit()


def test_a_stopped_server_leaves_no_lease_behind(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    """Stopping used to cancel sessions whose clients had just hung up while their lease releases
    waited for a worker thread; cancelled, those never ran, and the next server answered [IN-USE]
    until the leases expired. Here the releases wait as they do when many sessions end at once."""
    users = [(ALICE, ALICE_PW), (BOB, BOB_PW)] + [(f"user{n}@{DOMAIN}", f"pw-{n}") for n in range(3)]
    for address, password in users[2:]:
        create_mailbox(db, address, password, actor=CONSOLE)
    server = start_pop3(maildrop_lease_seconds=600)  # during this test only a release frees a maildrop
    clients = [login(server, address, password) for address, password in users]
    clients[0].quit()  # released at once: QUIT commits and releases before its +OK
    busy = threading.Event()
    for _ in range(32):  # at least as many as the default executor has threads
        server.loop.call_soon_threadsafe(server.loop.run_in_executor, None, busy.wait)
    for client in clients[1:-1]:
        client.close()  # hang up without QUIT
    time.sleep(0.5)  # their sessions have ended and wait for a thread to release their leases
    stopping = threading.Thread(target=server.stop)
    stopping.start()  # the last session is still open
    time.sleep(0.5)
    busy.set()
    stopping.join(timeout=30)
    replica = start_pop3(maildrop_lease_seconds=600)
    for address, password in users:
        login(replica, address, password).quit()


def test_logging_in_removes_what_killed_deliveries_left_in_tmp(db: Database, accounts: Accounts,
                                                               start_pop3: StartServer) -> None:
    deliver_to(db, accounts.alice_id, b"Subject: kept\r\n\r\nbody\r\n")
    tmp = db.settings.mail_root / maildir_relative_path(DOMAIN, "alice") / "tmp"
    orphan, in_progress = tmp / "1.M1P1.killed,S=5", tmp / "2.M2P2.writing,S=5"
    orphan.write_bytes(b"half!")
    in_progress.write_bytes(b"half!")
    two_days_ago = time.time() - 48 * 3600
    os.utime(orphan, (two_days_ago, two_days_ago))
    server = start_pop3()
    client = login(server)
    assert client.stat()[0] == 1
    client.quit()
    assert not orphan.exists() and in_progress.exists()


def _retr_digest(server: RunningServer, number: int) -> tuple[int, str]:
    """Octets and SHA-256 of RETR `number`, un-stuffed, read line by line."""
    raw = RawClient(server.tls_port, client_context(server.settings))
    raw.send(f"USER {ALICE}\r\nPASS {ALICE_PW}\r\n".encode())
    raw.line()
    raw.line()
    assert raw.command(f"RETR {number}".encode()).startswith(b"+OK")
    digest, octets = hashlib.sha256(), 0
    while (line := raw.line()) != b".\r\n":
        line = line[1:] if line.startswith(b".") else line
        digest.update(line)
        octets += len(line)
    raw.command(b"QUIT")
    return octets, digest.hexdigest()


def test_a_20_mb_message_comes_back_intact(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    line = b".starts with a dot and is long enough to matter" * 20 + b"\r\n"
    message = b"Subject: big\r\n\r\n" + line * (20 * 1024 * 1024 // len(line))
    deliver_to(db, accounts.alice_id, message)
    stored = b"Return-Path: <sender@remote.example>\r\n" + message
    server = start_pop3()
    client = login(server)
    _count, size = client.stat()
    client.quit()
    assert _retr_digest(server, 1) == (size, hashlib.sha256(stored).hexdigest())


RETURN_PATH = b"Return-Path: <sender@remote.example>\r\n"


def message_of_stored_size(size: int) -> bytes:
    """A message that delivery stores in exactly `size` octets, with lines to stuff."""
    message = b"Subject: edge\r\n\r\n" + b".a line that needs stuffing\r\n" * (size // 40)
    pad = size - len(RETURN_PATH) - len(message) - 2
    return message + b"x" * pad + b"\r\n"


def test_messages_around_the_chunk_size_come_back_intact(db: Database, accounts: Accounts,
                                                         start_pop3: StartServer) -> None:
    """Up to CHUNK_SIZE a message goes out in one write from one read; beyond, it is streamed."""
    sizes = [CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7]
    messages = [message_of_stored_size(size) for size in sizes]
    deliver_to(db, accounts.alice_id, *messages)
    server = start_pop3()
    raw = RawClient(server.tls_port, client_context(server.settings))
    raw.command(f"USER {ALICE}".encode())
    raw.command(f"PASS {ALICE_PW}".encode())
    for number, (size, message) in enumerate(zip(sizes, messages, strict=True), start=1):
        assert raw.retrieve(b"RETR %d" % number) == RETURN_PATH + message
        assert len(RETURN_PATH + message) == size
        header = RETURN_PATH + b"Subject: edge\r\n\r\n"
        assert raw.retrieve(b"TOP %d 2" % number) == header + b".a line that needs stuffing\r\n" * 2
    raw.command(b"QUIT")


def test_a_file_whose_name_misstates_its_size_comes_back_whole(db: Database, accounts: Accounts,
                                                              start_pop3: StartServer) -> None:
    """Files not written by our delivery (an imported Maildir) may carry a wrong `,S=`: the size
    listed decides how a message is read, never how much of it is sent."""
    new = db.settings.mail_root / maildir_relative_path(DOMAIN, "alice") / "new"
    bigger = b"Subject: bigger\r\n\r\n" + b".line\r\n" * 50_000
    smaller = b"Subject: smaller\r\n\r\nshort\r\n"
    (new / "1000000001.M1P1.imported,S=100").write_bytes(bigger)
    (new / "1000000002.M2P2.imported,S=999999").write_bytes(smaller)
    server = start_pop3()
    raw = RawClient(server.tls_port, client_context(server.settings))
    raw.command(f"USER {ALICE}".encode())
    raw.command(f"PASS {ALICE_PW}".encode())
    assert raw.retrieve(b"RETR 1") == bigger
    assert raw.retrieve(b"RETR 2") == smaller
    raw.command(b"QUIT")


def test_retr_of_a_50_mb_message_to_a_slow_client_keeps_memory_flat(db: Database, accounts: Accounts,
                                                                    start_pop3: StartServer) -> None:
    line = b"a line of a big message, long enough to fill the socket buffers quickly....\r\n"
    deliver_to(db, accounts.alice_id, b"Subject: big\r\n\r\n" + line * (50 * 1024 * 1024 // len(line)))
    server = start_pop3()
    raw = RawClient(server.tls_port, client_context(server.settings))
    raw.command(f"USER {ALICE}".encode())
    raw.command(f"PASS {ALICE_PW}".encode())
    tracemalloc.start()  # server and client share this process: the peak bounds both together
    try:
        raw.send(b"RETR 1\r\n")
        received, tail = 0, b""
        while not tail.endswith(b"\r\n.\r\n"):
            data = raw.sock.recv(65536)
            assert data, "connection closed inside the reply"
            received, tail = received + len(data), (tail + data)[-5:]
            time.sleep(0.0001)  # slower than the server: it has to wait for the client
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received > 50 * 1024 * 1024
    assert peak < 8 * 1024 * 1024, peak
    raw.command(b"QUIT")


def _stored_form(raw: bytes) -> bytes:
    """What delivery stores: CRLF line ends throughout and at the end, after a Return-Path."""
    crlf = re.sub(rb"(?<!\r)\n", b"\r\n", raw)
    if not crlf.endswith(b"\r\n"):
        crlf += b"\r\n"
    return b"Return-Path: <sender@remote.example>\r\n" + crlf


def test_every_corpus_message_comes_back_byte_identical(db: Database, accounts: Accounts,
                                                        start_pop3: StartServer) -> None:
    corpus = sorted(corpus_dir().glob("*.eml"))
    if not corpus:
        pytest.skip(f"no corpus at {corpus_dir()}")
    raws = [path.read_bytes() for path in corpus]
    deliver_to(db, accounts.alice_id, *raws)
    server = start_pop3()
    raw = RawClient(server.tls_port, client_context(server.settings))
    raw.command(f"USER {ALICE}".encode())
    raw.command(f"PASS {ALICE_PW}".encode())
    raw.command(b"LIST")
    sizes = [int(line.split()[1]) for line in raw.multiline()]
    assert raw.command(b"STAT") == b"+OK %d %d\r\n" % (len(raws), sum(sizes))
    for number, (path, message) in enumerate(zip(corpus, raws, strict=True), start=1):
        retrieved = raw.retrieve(b"RETR %d" % number)
        assert retrieved == _stored_form(message), path.name
        assert len(retrieved) == sizes[number - 1], path.name
        header, separator, body = retrieved.partition(b"\r\n\r\n")
        body_lines = body.split(b"\r\n")[:-1]
        for count in (0, 3):
            expected = header + separator + b"".join(line + b"\r\n" for line in body_lines[:count])
            assert raw.retrieve(b"TOP %d %d" % (number, count)) == expected, (path.name, count)
    raw.command(b"QUIT")


def test_database_failures_answer_sys_temp_and_the_session_goes_on(
    db: Database, accounts: Accounts, start_pop3: StartServer, settings: Settings
) -> None:
    broken = {
        "sqlite": f"sqlite:///{settings.data_dir}/missing-dir/none.db",
        "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/none",
    }[db.engine.dialect.name]
    server = start_pop3(database_url=broken)
    raw = RawClient(server.tls_port, client_context(server.settings))
    assert raw.command(f"USER {ALICE}".encode()) == b"+OK send PASS\r\n"
    assert raw.command(f"PASS {ALICE_PW}".encode()) == (
        b"-ERR [SYS/TEMP] temporary server problem, try again later\r\n")
    assert raw.command(b"CAPA").startswith(b"+OK")
