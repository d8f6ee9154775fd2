"""Hypothesis against the live servers: random command sequences and bytes over a socket never
crash the service nor leave the session stuck (after the noise, the session answers a probe
or has been closed), and a valid session afterwards still works. The state machines alone are
fuzzed in tests/unit; here the transports, hooks and shared calls run too."""

from __future__ import annotations

import socket
import time
from base64 import b64encode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from integration.pop3.support import (
    ALICE,
    ALICE_PW,
    RunningServer,
    deliver_to,
    login_when_free,
)
from integration.smtp.support import mx_client

from shared.storage.db import Database

from .conftest import Hosted, StartPop3, StartSmtp
from .support import visible_files

QUIET = 0.2  # a session that sent nothing for this long has answered all it will
PROBE_TIMEOUT = 15.0
FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

SMTP_COMMANDS = [
    b"EHLO fuzz.test", b"HELO fuzz.test", b"MAIL FROM:<sender@remote.example>", b"MAIL FROM:<>",
    b"MAIL FROM:<sender@remote.example> SIZE=99999999999", b"RCPT TO:<alice@hosted.example>",
    b"RCPT TO:<nobody@hosted.example>", b"RCPT TO:<relay@remote.example>", b"RCPT TO:<alice%remote@hosted.example>",
    b"DATA", b"RSET", b"NOOP", b"VRFY alice", b"QUIT", b"STARTTLS", b"AUTH PLAIN", b"AUTH LOGIN", b".",
    b"Subject: fuzz", b"", b"BDAT 10 LAST", b"MAIL FROM:<\xff@x>", b"x" * 600,
]
POP3_COMMANDS = [
    b"USER " + ALICE.encode(), b"PASS " + ALICE_PW.encode(), b"PASS wrong", b"APOP alice 0123",
    b"AUTH PLAIN " + b64encode(f"\0{ALICE}\0{ALICE_PW}".encode()), b"AUTH PLAIN", b"AUTH PLAIN =", b"*",
    b"STAT", b"LIST", b"LIST 1", b"LIST 99", b"UIDL", b"UIDL 1", b"RETR 1", b"RETR 2", b"TOP 1 0", b"TOP 1 99",
    b"DELE 1", b"RSET", b"NOOP", b"CAPA", b"STLS", b"UTF8", b"QUIT", b"", b"x" * 300,
]


def noise(commands: list[bytes]) -> st.SearchStrategy[list[bytes]]:
    return st.lists(
        st.one_of(
            st.sampled_from(commands).map(lambda command: command + b"\r\n"),
            st.binary(max_size=200),
            st.sampled_from([b"\r", b"\n", b"\r\n", b"\x00", b"\r\n.\r\n", b"\n.\n"]),
        ),
        max_size=20,
    )


def drain(sock: socket.socket, quiet: float = QUIET) -> bytes:
    """What the server sends until it has been silent for `quiet` seconds; ends with b"<EOF>"
    if it closed the connection."""
    received = b""
    sock.settimeout(quiet)
    deadline = time.monotonic() + PROBE_TIMEOUT
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return received
        except OSError:  # reset by a server that hung up on garbage
            return received + b"<EOF>"
        if not data:
            return received + b"<EOF>"
        received += data
    raise AssertionError("the server never fell silent")


def answers_after_noise(port: int, chunks: list[bytes], probe: bytes, answer: bytes) -> None:
    """Send the noise, let the server answer it, then `probe`: the session must reply with
    `answer` or be closed, within PROBE_TIMEOUT."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
            if drain(sock).endswith(b"<EOF>"):
                return
            sock.sendall(probe)
        except (BrokenPipeError, ConnectionResetError):
            return  # the server hung up (QUIT, too many errors, a failed TLS handshake)
        replies = b""
        deadline = time.monotonic() + PROBE_TIMEOUT
        while answer not in replies and not replies.endswith(b"<EOF>"):
            assert time.monotonic() < deadline, f"session stuck after {chunks!r}: {replies!r}"
            replies += drain(sock)
    finally:
        sock.close()


@pytest.fixture
def pop3(db: Database, hosted: Hosted, start_pop3: StartPop3) -> RunningServer:
    deliver_to(db, hosted.ids[ALICE], b"Subject: one\r\n\r\n.\r\nbody\r\n", b"Subject: two\r\n\r\n2\r\n")
    # Throttling forgets failures at once: the noise fails logins on purpose.
    return start_pop3(allow_plaintext_auth=True, login_max_failures=1_000_000, maildrop_lease_seconds=2)


def test_smtp_survives_random_sessions(start_smtp: StartSmtp) -> None:
    smtp = start_smtp()

    @FUZZ
    @given(noise(SMTP_COMMANDS))
    def session(chunks: list[bytes]) -> None:
        answers_after_noise(smtp.mx, chunks, b"\r\n.\r\nRSET\r\nHELP\r\n", b"214 2.0.0 ")

    session()
    before = len(visible_files(smtp.settings, ALICE))
    with mx_client(smtp) as client:
        assert client.sendmail("sender@remote.example", [ALICE], b"Subject: after the noise\r\n\r\nok\r\n") == {}
    assert len(visible_files(smtp.settings, ALICE)) == before + 1


def test_pop3_survives_random_sessions(pop3: RunningServer) -> None:
    @FUZZ
    @given(noise(POP3_COMMANDS))
    def session(chunks: list[bytes]) -> None:
        answers_after_noise(pop3.port, chunks, b"\r\n*\r\nCAPA\r\n", b"+OK capability list follows\r\n")

    session()
    client = login_when_free(pop3, within=10)
    count, _size = client.stat()
    assert count <= 2 and all(client.retr(n)[0].startswith(b"+OK") for n in range(1, count + 1))
    client.quit()
