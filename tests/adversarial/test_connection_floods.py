"""Connection floods: an address that holds its cap of sessions is refused more, with a reply,
while another address is still served; a slowloris that trickles a command line is dropped by
the idle timeout while other clients keep being served (SMTP and POP3)."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from e2e.processes import wait_for
from integration.smtp.support import RunningSmtp

from shared.storage.db import Database

from .conftest import Hosted, StartPop3, StartSmtp

CAP = 3
IDLE_TIMEOUT = 1.0
OTHER_ADDRESS = "127.0.0.2"  # all of 127/8 is loopback on Linux: a second client address


@dataclass(frozen=True)
class Service:
    port: int
    welcome: bytes
    refusal: bytes
    command: bytes
    answer: bytes


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def first_line(sock: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        line += chunk
    return line


def greeted(port: int, welcome: bytes, source: str = "127.0.0.1") -> bool:
    with connect(port, source) as sock:
        return first_line(sock).startswith(welcome)


@contextmanager
def running(service: str, start_smtp: StartSmtp, start_pop3: StartPop3) -> Iterator[Service]:
    if service == "smtp":
        smtp = start_smtp(max_connections_per_ip=CAP)
        yield Service(smtp.mx, b"220 ", b"421 4.7.0 Too many connections", b"NOOP\r\n", b"250 ")
    else:
        pop3 = start_pop3(max_connections_per_ip=CAP)
        yield Service(pop3.port, b"+OK", b"-ERR [SYS/TEMP] Too many connections", b"NOOP\r\n", b"-ERR")


@pytest.mark.parametrize("service", ["smtp", "pop3"])
def test_an_address_at_its_cap_is_refused_and_another_is_served(
    service: str, start_smtp: StartSmtp, start_pop3: StartPop3
) -> None:
    with running(service, start_smtp, start_pop3) as target:
        held = [connect(target.port) for _ in range(CAP)]
        assert all(first_line(sock).startswith(target.welcome) for sock in held)
        with connect(target.port) as refused:
            assert first_line(refused).startswith(target.refusal)
            assert refused.recv(1) == b""  # and closed
        assert greeted(target.port, target.welcome, OTHER_ADDRESS)
        held[0].sendall(target.command)  # the held sessions still work
        assert first_line(held[0]).startswith(target.answer)
        held.pop().close()
        wait_for(lambda: greeted(target.port, target.welcome), 10, "a freed slot to be given out again")
        for sock in held:
            sock.close()


def dropped_while_trickling(port: int, welcome: bytes, deadline: float) -> float:
    """Send a command line a byte every 0.2 s, never ending it; the seconds until the server hangs up."""
    started = time.monotonic()
    with connect(port) as slow:
        assert first_line(slow).startswith(welcome)
        for byte in (b"EHLO slowloris.example" * 10)[: int(deadline / 0.2)]:
            readable, _, _ = select.select([slow], [], [], 0.2)
            try:
                if readable and slow.recv(1) == b"":
                    return time.monotonic() - started
                slow.send(bytes([byte]))
            except OSError:  # a hang-up with a byte of ours unread arrives as a reset
                return time.monotonic() - started
    raise AssertionError(f"a trickling client was still connected after {deadline} s")


def test_smtp_drops_a_slowloris_and_serves_others(db: Database, hosted: Hosted) -> None:
    smtp = RunningSmtp(db, idle_timeout=IDLE_TIMEOUT)
    try:
        assert dropped_while_trickling(smtp.mx, b"220 ", deadline=10 * IDLE_TIMEOUT) < 5 * IDLE_TIMEOUT
        assert greeted(smtp.mx, b"220 ")
    finally:
        smtp.stop()


def test_pop3_drops_a_slowloris_and_serves_others(start_pop3: StartPop3) -> None:
    pop3 = start_pop3(pop3_idle_timeout=IDLE_TIMEOUT)
    assert IDLE_TIMEOUT <= dropped_while_trickling(pop3.port, b"+OK", deadline=10 * IDLE_TIMEOUT) < 5 * IDLE_TIMEOUT
    assert greeted(pop3.port, b"+OK")
