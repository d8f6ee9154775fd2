"""The maildrop across sessions and replicas: exclusive leases, expiry, heartbeat, big and odd messages."""

from __future__ import annotations

import dataclasses
import hashlib
import poplib
import re
import time

import pytest

from shared.config import Settings
from shared.db import Database
from shared.maildrop import open_maildrop

from .conftest import Accounts, StartServer
from .support import (
    ALICE,
    ALICE_PW,
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
