"""What stock aiosmtpd 1.4.6 does on its own, checked rather than assumed (issue 3).

Each fact here is a reason for one of our overrides; if an aiosmtpd upgrade changes one of
them, this file says which override to revisit. The same inputs against our server are in
test_smtp_smuggling.py, test_smtp_limits.py and test_smtp_auth.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from .support import RawSmtp, StockSmtp

pytestmark = pytest.mark.integration


class Recorder:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


class Failing(Recorder):
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        raise RuntimeError("database password is hunter2")


@pytest.fixture
def stock() -> Iterator[StockSmtp]:
    server = StockSmtp(Recorder(), hostname="stock.example", auth_require_tls=False)
    yield server
    server.stop()


def raw(server: StockSmtp) -> RawSmtp:
    return RawSmtp(server.port, enhanced_codes=False)


def test_data_ends_only_at_crlf_dot_crlf_and_keeps_bare_line_ends(stock: StockSmtp) -> None:
    client = raw(stock)
    client.send(b"EHLO t\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<b@hosted.example>\r\nDATA\r\n")
    for _ in range(4):
        client.reply()
    client.send(b"x\n.\nMAIL FROM:<evil@remote.example>\r\n\r\n.\rq\r\n.\r\n")
    assert client.reply().startswith(b"250")
    # Only CRLF delimits lines: the bare ones stay content, and ".\rq" loses its dot as a stuffed line.
    content = b"x\n.\nMAIL FROM:<evil@remote.example>\r\n\r\n\rq\r\n"
    assert stock.received == [("a@remote.example", ["b@hosted.example"], content)]
    client.close()


def test_bare_lf_ends_a_command_and_the_mail_limit_grows_with_every_ehlo(stock: StockSmtp) -> None:
    client = raw(stock)
    client.send(b"NOOP\n")
    assert client.reply() == b"250 OK\r\n"
    for _ in range(20):
        client.send(b"EHLO t\r\n")
        client.reply()
    client.send(b"MAIL FROM:<" + b"a" * 950 + b"@remote.example>\r\n")
    assert client.reply() == b"250 OK\r\n"
    client.close()


def test_a_failed_authenticator_result_gets_no_reply_at_all() -> None:
    def refuse(*_args: Any) -> AuthResult:
        return AuthResult(success=False)

    server = StockSmtp(Recorder(), hostname="stock.example", auth_require_tls=False, authenticator=refuse)
    try:
        client = raw(server)
        client.send(b"EHLO t\r\n")
        client.reply()
        client.send(b"AUTH PLAIN AGFAYi5leGFtcGxlAHdyb25n\r\n")
        assert client.pending(0.5) == b""
        client.close()
    finally:
        server.stop()


def test_the_default_exception_reply_leaks_the_exception_text() -> None:
    server = StockSmtp(Failing(), hostname="stock.example")
    try:
        client = raw(server)
        client.send(b"EHLO t\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<b@hosted.example>\r\n")
        client.reply()
        client.reply()
        assert client.reply() == b"500 Error: (RuntimeError) database password is hunter2\r\n"
        client.close()
    finally:
        server.stop()


def test_the_banner_names_the_software_and_version(stock: StockSmtp) -> None:
    client = raw(stock)
    assert client.greeting == b"220 stock.example Python SMTP 1.4.6\r\n"
    client.close()
