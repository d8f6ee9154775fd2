"""Bad input at scale, over real sockets: 10,000 recipients, a 1 MB header line, MIME nested a
thousand deep, an empty message, invalid UTF-8 and NUL bytes in commands and headers. Each
gets a proper reply, the session goes on, the servers stay up, and what is accepted comes
back out of POP3 byte for byte."""

from __future__ import annotations

import time

import pytest
from integration.pop3.support import (
    ALICE,
    ALICE_PW,
    RawClient,
    RunningServer,
    client_context,
    login_when_free,
)
from integration.smtp.support import RawSmtp, RunningSmtp
from integration.smtp.test_smtp_limits import ehlo, send_data

from services.smtp.protocol import REFUSED_RECIPIENT_LIMIT
from services.smtp.replies import S421_TOO_MANY_REFUSED_RECIPIENTS

from .conftest import StartPop3, StartSmtp
from .support import visible_files

RECIPIENTS = 10_000
MAX_RECIPIENTS = 100


@pytest.fixture
def smtp(start_smtp: StartSmtp) -> RunningSmtp:
    return start_smtp(max_recipients=MAX_RECIPIENTS)


def reply_lines(client: RawSmtp, count: int) -> list[bytes]:
    """`count` one-line replies, read in bulk (RawSmtp reads a byte at a time)."""
    data = b""
    while data.count(b"\r\n") < count:
        received = client.sock.recv(65536)
        assert received, "connection closed"
        data += received
    lines = data.split(b"\r\n")
    assert lines[count:] == [b""], "more replies than commands"
    return lines[:count]


def nested_mime(depth: int) -> bytes:
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level) for level in range(depth)
    )
    tail = b"".join(b"\r\n--b%d--\r\n" % level for level in reversed(range(depth)))
    return b"Subject: nested\r\nMIME-Version: 1.0\r\n" + head + b"Content-Type: text/plain\r\n\r\ncore" + tail


def test_ten_thousand_recipients_in_one_transaction(smtp: RunningSmtp) -> None:
    client = ehlo(smtp)
    assert client.command(b"MAIL FROM:<sender@remote.example>").startswith(b"250")
    started = time.monotonic()
    batch = 1000
    replies = []
    for first in range(0, RECIPIENTS, batch):
        client.send(b"".join(b"RCPT TO:<alice+%d@hosted.example>\r\n" % n for n in range(first, first + batch)))
        replies += [line[:9] for line in reply_lines(client, batch)]
    assert replies[:MAX_RECIPIENTS] == [b"250 2.1.5"] * MAX_RECIPIENTS
    assert set(replies[MAX_RECIPIENTS:]) == {b"452 4.5.3"}
    assert time.monotonic() - started < 60
    assert client.command(b"DATA").startswith(b"354")
    assert client.command(b"Subject: many\r\n\r\nonce\r\n.").startswith(b"250 2.0.0")
    assert len(visible_files(smtp.settings, ALICE)) == 1  # one copy, however many times she was named


def test_a_recipient_harvest_is_cut_off(smtp: RunningSmtp) -> None:
    """Each unknown recipient costs a lookup: past REFUSED_RECIPIENT_LIMIT refusals the session
    ends with 421 instead of probing on; other sessions are served as before."""
    client = ehlo(smtp)
    for _transaction in range(2):  # the count is per connection, not per transaction
        assert client.command(b"MAIL FROM:<sender@remote.example>").startswith(b"250")
        client.send(b"".join(b"RCPT TO:<nobody%d@hosted.example>\r\n" % n for n in range(REFUSED_RECIPIENT_LIMIT // 2)))
        assert {client.reply()[:9] for _ in range(REFUSED_RECIPIENT_LIMIT // 2)} == {b"550 5.1.1"}
        assert client.command(b"RSET").startswith(b"250")
    assert client.command(b"MAIL FROM:<sender@remote.example>").startswith(b"250")
    assert client.command(f"RCPT TO:<{ALICE}>".encode()) == S421_TOO_MANY_REFUSED_RECIPIENTS.to_bytes()
    assert client.line() == b""
    other = ehlo(smtp)
    assert other.command(b"MAIL FROM:<sender@remote.example>").startswith(b"250")
    assert other.command(f"RCPT TO:<{ALICE}>".encode()).startswith(b"250")


def test_oversized_and_odd_messages_get_a_proper_reply(smtp: RunningSmtp, start_pop3: StartPop3) -> None:
    client = ehlo(smtp)
    huge_header = b"Subject: " + b"h" * 1024 * 1024 + b"\r\n\r\nbody\r\n"
    assert send_data(client, huge_header).startswith(b"500 5.5.2 Message has lines longer than 1000 octets")
    accepted = [
        nested_mime(1000),
        b"",
        b"Subject: \xff\xfe\xc3\x28 invalid UTF-8\r\nFrom: \xe9t\xe9 <a@b.example>\r\n\r\n\xff\r\n",
        b"Subject: a\x00NUL\r\nX-Nul: \x00\x00\r\n\r\nNUL \x00 in the body\r\n",
    ]
    for content in accepted:
        assert send_data(client, content).startswith(b"250 2.0.0"), content[:60]
    assert client.command(b"NOOP").startswith(b"250")
    client.close()
    stored = [path.read_bytes() for path in visible_files(smtp.settings, ALICE)]
    assert [any(message.endswith(content) for message in stored) for content in accepted] == [True] * 4
    retrieve_everything_through_pop3(start_pop3(), stored)


def retrieve_everything_through_pop3(pop3: RunningServer, stored: list[bytes]) -> None:
    client = login_when_free(pop3)
    for number, message in enumerate(stored, start=1):
        assert b"".join(line + b"\r\n" for line in client.retr(number)[1]) == message
        assert client.top(number, 0)[1][0].startswith(b"Return-Path:")
    client.quit()


def test_invalid_utf8_and_nul_in_smtp_commands(smtp: RunningSmtp) -> None:
    client = RawSmtp(smtp.mx)
    for line, expected in (
        (b"EHLO \xff\xfe", b"501 5.5.4"),
        (b"EHLO scale.test", b"250"),
        (b"MAIL FROM:<\xc3\x28@remote.example> SMTPUTF8", (b"553 5.1.7", b"501", b"500")),
        (b"MAIL FROM:<a\x00b@remote.example>", (b"553 5.1.7", b"501", b"500")),
        (b"MAIL FROM:<sender@remote.example>", b"250"),
        (b"RCPT TO:<\xff@hosted.example>", (b"553", b"501", b"500")),
        (b"RCPT TO:<alice@hosted.example\x00.evil.example>", (b"553", b"501", b"500")),
        (b"\x00\x00\x00", b"500 5.5.2"),
        (b"NOOP", b"250 2.0.0"),
    ):
        assert client.command(line).startswith(expected), line
    client.close()


def test_invalid_utf8_and_nul_in_pop3_commands(start_pop3: StartPop3) -> None:
    pop3 = start_pop3()
    client = RawClient(pop3.tls_port, client_context(pop3.settings))
    for line in (b"USER \xff\xfe@hosted.example", b"USER alice\x00@hosted.example", b"\x00\x00", b"\xc3\x28"):
        assert client.command(line).startswith(b"-ERR"), line
    assert client.command(f"USER {ALICE}".encode()).startswith(b"+OK")
    assert client.command(b"PASS \xff" + ALICE_PW.encode()).startswith(b"-ERR")
    assert client.command(f"USER {ALICE}".encode()).startswith(b"+OK")
    assert client.command(f"PASS {ALICE_PW}".encode()).startswith(b"+OK")
    assert client.command(b"RETR \x00").startswith(b"-ERR")
    assert client.command(b"QUIT").startswith(b"+OK")
