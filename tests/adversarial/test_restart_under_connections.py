"""A restart resets nobody: while a SIGKILLed smtp or pop3 service starts again, clients
connecting in a loop wait for a worker and get the greeting; none is reset, hung up on or left
hanging.

The listening sockets are held by the test, as a service manager (a systemd socket unit) holds
them, and passed at each start (shared.config.passed_sockets). A socket the service binds
itself dies with it: its SIGKILLed workers free their memory before they close their files, and
a connection that lands in its queue in those milliseconds is reset when it closes (about one
run in two did so on this machine). Connections that were open at the kill are not counted:
a SIGKILL gives no process the chance to answer them."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections import Counter

import pytest
from e2e.processes import ProcessTracker

from shared.config import Settings
from shared.runtime.prefork import listening_socket

from .conftest import Hosted
from .support import ServiceProcess

CLIENTS = 4  # connecting at once, so a connection meets every moment of the start-up
GREETING_TIMEOUT = 60.0  # a loaded machine starts the workers slowly: waiting is allowed
GREETINGS_AFTER_RESTART = 40

# service -> (its listeners, the one the clients use, its greeting)
SERVICES: dict[str, tuple[tuple[str, ...], str, bytes]] = {
    "smtp": (("mx", "submission", "submissions"), "mx", b"220 "),
    "pop3": (("pop3", "pop3s"), "pop3", b"+OK"),
}


class ConnectingClients:
    """`CLIENTS` threads that connect, read the first line, hang up and start over, sorting
    each outcome: "greeting", "refused", or what went wrong."""

    def __init__(self, port: int, greeting: bytes) -> None:
        self.port = port
        self.greeting = greeting
        self.outcomes: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._connect_repeatedly, daemon=True) for _ in range(CLIENTS)]

    def __enter__(self) -> ConnectingClients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(GREETING_TIMEOUT + 5)

    def count(self, outcome: str) -> int:
        with self._lock:
            return self.outcomes[outcome]

    def _connect_repeatedly(self) -> None:
        while not self._stop.is_set():
            outcome = self._connect_once()
            with self._lock:
                self.outcomes[outcome] += 1
            if outcome == "refused":
                time.sleep(0.005)

    def _connect_once(self) -> str:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=GREETING_TIMEOUT)
        except ConnectionRefusedError:
            return "refused"
        except OSError as error:
            return f"connect failed: {error!r}"
        try:
            first = sock.makefile("rb").readline()
        except OSError as error:
            return f"reset or timed out before the greeting: {error!r}"
        finally:
            sock.close()
        return "greeting" if first.startswith(self.greeting) else f"no greeting: {first[:60]!r}"


@pytest.mark.parametrize("service", SERVICES)
def test_connections_across_a_sigkill_restart_wait_and_are_greeted(
    service: str, settings: Settings, hosted: Hosted, processes: ProcessTracker
) -> None:
    listeners, used, greeting = SERVICES[service]
    held = {name: listening_socket("127.0.0.1", 0) for name in listeners}
    try:
        running = ServiceProcess(service, dataclasses.replace(settings, max_connections_per_ip=50), processes, held)
        port = held[used].getsockname()[1]
        assert running.start()[used] == port  # the held socket, not one of its own
        running.kill()
        with ConnectingClients(port, greeting) as clients:
            running.start()
            deadline = time.monotonic() + GREETING_TIMEOUT
            while clients.count("greeting") < GREETINGS_AFTER_RESTART and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        for sock in held.values():
            sock.close()
    outcomes = dict(clients.outcomes)
    assert outcomes.get("greeting", 0) >= GREETINGS_AFTER_RESTART, outcomes
    assert set(outcomes) <= {"refused", "greeting"}, outcomes
