"""Helpers of the POP3 integration tests: a server on loopback, and the clients that talk to it.

A server runs on its own event loop in a thread, so blocking clients (poplib,
raw sockets, curl, fetchmail, mpop) can talk to it from the test.
"""

from __future__ import annotations

import asyncio
import poplib
import socket
import ssl
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from services.pop3 import Pop3Server
from shared.config import Settings
from shared.mail.delivery import deliver
from shared.runtime import eventloop
from shared.runtime.tls import ensure_tls_pair
from shared.storage.db import Database

T = TypeVar("T")
DOMAIN = "hosted.example"
ALICE, ALICE_PW = f"alice@{DOMAIN}", "alice pw with spaces"
BOB, BOB_PW = f"bob@{DOMAIN}", "bob-pw"
# Short timers keep the suite fast; tests that need other values pass overrides.
FAST = dict(pop3_idle_timeout=5.0, maildrop_lease_seconds=3, allow_plaintext_auth=False, login_max_failures=1000)


class RunningServer:
    """A Pop3Server on a private event loop in a daemon thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = eventloop.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = Pop3Server(settings)
        self.call(self.server.start())
        self.port, self.tls_port = self.server.ports

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def stop(self) -> None:
        """Stop the server; a test may stop it early, and the fixture's stop is then a no-op."""
        if self.loop.is_closed():
            return
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def deliver_to(db: Database, mailbox_id: int, *messages: bytes) -> None:
    for message in messages:
        assert deliver(db, message, [mailbox_id], return_path="sender@remote.example").delivered == (mailbox_id,)


def client_context(settings: Settings) -> ssl.SSLContext:
    """Trusts exactly the server's (self-signed) certificate."""
    cert, _key = ensure_tls_pair(settings)
    return ssl.create_default_context(cafile=str(cert))


def pop3_stls(server: RunningServer) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", server.port, timeout=10)
    client.stls(client_context(server.settings))
    return client


def pop3_ssl(server: RunningServer) -> poplib.POP3_SSL:
    return poplib.POP3_SSL("127.0.0.1", server.tls_port, context=client_context(server.settings), timeout=10)


def login(server: RunningServer, user: str = ALICE, password: str = ALICE_PW) -> poplib.POP3:
    client = pop3_ssl(server)
    client.user(user)
    client.pass_(password)
    return client


def login_when_free(server: RunningServer, within: float = 5.0) -> poplib.POP3:
    """Log in as soon as an ended session's lease is released (well before it would expire)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return login(server)
        except poplib.error_proto as error:
            assert b"[IN-USE]" in error.args[0] and time.monotonic() < deadline, error
            time.sleep(0.05)


class RawClient:
    """A socket that sends exact bytes and reads replies (PROTOCOL-CHECKLIST §0)."""

    def __init__(
        self, port: int, context: ssl.SSLContext | None = None, *, source_ip: str = "127.0.0.1", timeout: float = 10
    ) -> None:
        """`source_ip`: any 127/8 address is loopback on Linux, so tests can be "another client"."""
        self.timeout = timeout
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                                            source_address=(source_ip, 0))
        self._buffer = bytearray()
        if context:
            self.start_tls(context)
        self.greeting = self.line()

    def start_tls(self, context: ssl.SSLContext) -> None:
        assert not self._buffer, "bytes received in the clear would be lost"
        self.sock = context.wrap_socket(self.sock, server_hostname="127.0.0.1")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        """One reply line with its CRLF; what is left (maybe b"") when the server closes."""
        while (end := self._buffer.find(b"\r\n")) == -1:
            data = self.sock.recv(65536)
            if not data:
                rest = bytes(self._buffer)
                self._buffer.clear()
                return rest
            self._buffer += data
        line = bytes(self._buffer[: end + 2])
        del self._buffer[: end + 2]
        return line

    def multiline(self) -> list[bytes]:
        """The lines of a multi-line body up to (not including) the terminating dot."""
        lines = []
        while (line := self.line()) != b".\r\n":
            assert line, "connection closed inside a multi-line reply"
            lines.append(line)
        return lines

    def retrieve(self, command: bytes) -> bytes:
        """The un-stuffed payload of RETR or TOP."""
        status = self.command(command)
        assert status.startswith(b"+OK"), status
        return b"".join(line[1:] if line.startswith(b".") else line for line in self.multiline())

    def command(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.line()

    def pending(self, wait: float = 0.5) -> bytes:
        """Whatever arrives within `wait` seconds (b"" if nothing)."""
        if self._buffer:
            return bytes(self._buffer)
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError):
            return b""
        finally:
            self.sock.settimeout(self.timeout)

    def close(self) -> None:
        self.sock.close()


def corpus_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "corpus"
