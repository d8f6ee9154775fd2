"""Line lengths (RFC 5321 §4.5.3.1), SIZE (RFC 1870) and the recipient limit.

The shared server runs with max_message_size=100000 and max_recipients=100 (conftest).
"""

from __future__ import annotations

import time

import pytest

from .support import ALICE, RawSmtp, RunningSmtp, newest_message

pytestmark = pytest.mark.integration


def ehlo(server: RunningSmtp) -> RawSmtp:
    client = RawSmtp(server.mx)
    assert client.command(b"EHLO client.example").startswith(b"250")
    return client


def send_data(client: RawSmtp, body: bytes) -> bytes:
    assert client.command(b"MAIL FROM:<someone@remote.example>").startswith(b"250")
    assert client.command(f"RCPT TO:<{ALICE}>".encode()).startswith(b"250")
    assert client.command(b"DATA").startswith(b"354")
    client.send(body + b".\r\n")
    return client.reply()


def test_command_lines_are_limited_to_512_octets_including_crlf(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    exactly_512 = b"NOOP " + b"a" * 505
    assert len(exactly_512 + b"\r\n") == 512
    assert client.command(exactly_512).startswith(b"250 2.0.0")
    assert client.command(exactly_512 + b"a").startswith(b"500 5.5.2 Line too long")
    assert client.command(b"NOOP " + b"a" * 2043).startswith(b"500 5.5.2 Line too long")
    assert client.command(b"NOOP").startswith(b"250 2.0.0")
    client.close()


def test_mail_may_grow_by_the_size_and_smtputf8_allowance_only(shared_smtp: RunningSmtp) -> None:
    client = RawSmtp(shared_smtp.mx)
    for _ in range(20):  # stock aiosmtpd grows the MAIL limit with every EHLO, for every session
        assert client.command(b"EHLO client.example").startswith(b"250")
    local = b"a" * (510 + 36 - len(b"MAIL FROM:<@remote.example>"))
    assert client.command(b"MAIL FROM:<" + local + b"a@remote.example>").startswith(b"500 5.5.2")
    assert client.command(b"MAIL FROM:<" + local + b"@remote.example>").startswith(b"250 2.1.0")  # exactly fits
    assert client.command(b"RSET").startswith(b"250")
    assert client.command(b"MAIL FROM:<" + b"a" * 950 + b"@remote.example>").startswith(b"500 5.5.2")
    client.close()


def test_a_megabyte_without_line_end_gets_one_error_and_the_session_goes_on(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    client.send(b"X" * 1_000_000 + b"\r\n")
    assert client.reply().startswith(b"500 5.5.2 Line too long")
    assert client.command(b"NOOP").startswith(b"250 2.0.0")
    client.close()


def test_text_lines_up_to_1000_octets_pass_and_longer_ones_are_refused_after_the_dot(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    line_998 = b"x" * 998
    assert send_data(client, b"Subject: long\r\n\r\n" + line_998 + b"\r\n..." + b"y" * 996 + b"\r\n").startswith(
        b"250 2.0.0"
    )
    stored = newest_message(shared_smtp.settings, ALICE)
    assert b"\r\n" + line_998 + b"\r\n.." + b"y" * 996 + b"\r\n" in stored  # the stuffed dot is removed
    client.send(b"MAIL FROM:<someone@remote.example>\r\n")
    assert client.reply().startswith(b"250")
    assert client.command(f"RCPT TO:<{ALICE}>".encode()).startswith(b"250")
    assert client.command(b"DATA").startswith(b"354")
    client.send(b"Subject: too long\r\n\r\n" + b"z" * 5000 + b"\r\n")
    assert client.pending(0.3) == b""  # no reply in the middle of DATA
    client.send(b"more\r\n.\r\n")
    assert client.reply().startswith(b"500 5.5.2 Message has lines longer than 1000 octets")
    assert client.command(b"NOOP").startswith(b"250 2.0.0")
    client.close()


def test_size_is_advertised_and_enforced(shared_smtp: RunningSmtp) -> None:
    client = RawSmtp(shared_smtp.mx)
    assert b"250-SIZE 100000\r\n" in client.command(b"EHLO client.example")
    assert client.command(b"MAIL FROM:<someone@remote.example> SIZE=100001").startswith(b"552 5.3.4")
    for bad in (b"SIZE=abc", b"SIZE=", b"SIZE"):
        assert client.command(b"MAIL FROM:<someone@remote.example> " + bad).startswith(b"501 5.5.4"), bad
    reply = send_data(client, b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 120)
    assert reply.startswith(b"552 5.3.4")
    assert client.command(b"DATA").startswith(b"503 5.5.1")  # the envelope was reset
    client.close()


def test_at_least_100_recipients_then_452_too_many(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    assert client.command(b"MAIL FROM:<someone@remote.example>").startswith(b"250")
    client.send(b"".join(f"RCPT TO:<alice+{n}@hosted.example>\r\n".encode() for n in range(100)))
    assert all(client.reply().startswith(b"250 2.1.5") for _ in range(100))
    started = time.monotonic()
    for _ in range(3):
        assert client.command(b"RCPT TO:<bob@hosted.example>").startswith(b"452 4.5.3")
    assert time.monotonic() - started < 2
    assert client.command(b"DATA").startswith(b"354")
    assert client.command(b"Subject: many\r\n\r\nhi\r\n.").startswith(b"250 2.0.0")
    client.close()


def test_idle_sessions_end_but_a_slow_data_transfer_keeps_going(shared_smtp: RunningSmtp) -> None:
    """RFC 5321 §4.5.3.2: the timeout is per block in DATA, not for the whole transfer."""
    server = RunningSmtp(shared_smtp.db, idle_timeout=1.0)
    try:
        idle = ehlo(server)
        slow = ehlo(server)
        assert slow.command(b"MAIL FROM:<someone@remote.example>").startswith(b"250")
        assert slow.command(f"RCPT TO:<{ALICE}>".encode()).startswith(b"250")
        assert slow.command(b"DATA").startswith(b"354")
        slow.send(b"Subject: slow\r\n\r\n")
        for _ in range(6):  # 2.4 s in all, never 1 s without a byte
            time.sleep(0.4)
            slow.send(b"line\r\n")
        assert slow.command(b".").startswith(b"250 2.0.0")
        assert idle.line() == b""  # closed long ago, without a reply
        slow.close()
        idle.close()
    finally:
        server.stop()
