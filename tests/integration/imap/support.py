"""Dovecot for the tests: `beaconmail imap` on free loopback ports, and IMAP clients for it."""
from __future__ import annotations

import imaplib
import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.imap.server import DovecotMissing, check_installed
from shared.config import Settings
from tests.conftest import require_programs
from tests.integration.pop3.support import RawClient, RunningServer, client_context
from tests.integration.pop3.support import login as pop3_login

IN_CI = os.environ.get("CI") == "true"
PASSWORD = "imap pw with spaces"
READY_TIMEOUT = 15.0
# Dovecot answers a failed login after a delay that grows with the client IP's recent failures
# (up to 15 s, its auth penalty); every test client is 127.0.0.1.
CLIENT_TIMEOUT = 30.0
# The contract: counters equal the disk this long after a change.
CONTRACT_SECONDS = 5.0


def require_dovecot(settings: Settings) -> None:
    """Skip without Dovecot (fail under CI=true, where .ci/run installs it)."""
    try:
        check_installed(settings)
    except DovecotMissing as exc:
        if IN_CI:
            pytest.fail(f"CI=true requires Dovecot: {exc}")
        pytest.skip(str(exc))


def environment(settings: Settings) -> dict[str, str]:
    """The BEACONMAIL_* variables that make `load_settings` give `settings`' values here."""
    names = (
        "database_url", "data_dir", "mail_root", "hostname", "bind", "secret_key", "imap_port", "imaps_port",
        "login_max_failures", "login_lockout",
    )
    return {**os.environ, **{f"BEACONMAIL_{name.upper()}": str(getattr(settings, name)) for name in names}}


@dataclass
class Dovecot:
    settings: Settings
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


def start_dovecot(settings: Settings) -> Dovecot:
    log = settings.data_dir / "dovecot.log"
    command = [sys.executable, "-m", "services.cli", "imap"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=environment(settings), stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + READY_TIMEOUT
    while not all(_accepting(settings.bind, port) for port in (settings.imap_port, settings.imaps_port)):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"beaconmail imap did not start: {log.read_text()}")
        time.sleep(0.05)
    return Dovecot(settings, process, log)


def _accepting(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def imap_plain(settings: Settings) -> imaplib.IMAP4:
    return imaplib.IMAP4("127.0.0.1", settings.imap_port, timeout=CLIENT_TIMEOUT)


def imap_tls(settings: Settings) -> imaplib.IMAP4_SSL:
    return imaplib.IMAP4_SSL("127.0.0.1", settings.imaps_port, ssl_context=client_context(settings), timeout=CLIENT_TIMEOUT)


def login(settings: Settings, user: str, password: str) -> imaplib.IMAP4_SSL:
    client = imap_tls(settings)
    client.login(user, password)
    return client


def can_login(settings: Settings, user: str, password: str) -> bool:
    with imap_tls(settings) as client:
        try:
            client.login(user, password)
        except imaplib.IMAP4.error:
            return False
        return True


_FRESH_SOURCES = itertools.count()


def login_refused_afresh(settings: Settings, user: str, password: str) -> bool:
    """Whether Dovecot answers LOGIN with NO (BAD fails the test: a refusal must be a refusal),
    asked from a loopback address no attempt came from before. Dovecot delays each login from an
    address by that address's recent failures (2, 4, 8, then 15 s), so a test of many refusals
    from one address would wait minutes. Raw IMAP: imaplib cannot choose its source address."""
    n = next(_FRESH_SOURCES)
    source_ip = f"127.1.{n // 250 % 250}.{n % 250 + 1}"
    client = RawClient(settings.imaps_port, client_context(settings), source_ip=source_ip, timeout=CLIENT_TIMEOUT)
    try:
        client.send(b"a LOGIN " + imap_quoted(user) + b" " + imap_quoted(password) + b"\r\n")
        while not (reply := client.line()).startswith(b"a "):
            assert reply, "the connection closed before the reply to LOGIN"
        assert reply.startswith((b"a OK", b"a NO")), reply
        return reply.startswith(b"a NO")
    finally:
        client.close()


def imap_quoted(value: str) -> bytes:
    """An IMAP quoted string (RFC 3501 9: backslash escapes the quote and itself)."""
    return b'"' + value.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def curl() -> str:
    require_programs("curl", install_hint="apt install curl")
    return "curl"


def pop3_messages(server: RunningServer, address: str) -> dict[str, bytes]:
    """UIDL -> the message's bytes, as POP3 serves them."""
    client = pop3_login(server, address, PASSWORD)
    try:
        uids = dict(line.decode().split() for line in client.uidl()[1])
        return {uid: b"\r\n".join(client.retr(int(n))[1]) + b"\r\n" for n, uid in uids.items()}
    finally:
        client.quit()


def imap_messages(client: imaplib.IMAP4, folder: str = "INBOX") -> list[bytes]:
    client.select(folder)
    _typ, data = client.uid("FETCH", "1:*", "(BODY.PEEK[])")
    return [part[1] for part in data if isinstance(part, tuple)]


def within_contract(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + CONTRACT_SECONDS
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
