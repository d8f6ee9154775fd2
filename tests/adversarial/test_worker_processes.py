"""`beaconmail smtp` and `beaconmail pop3` with several worker processes on shared sockets: a
worker that dies is replaced and the service goes on; SIGTERM stops them all; a SIGKILLed
parent takes its workers with it, so no orphan keeps the port (a restarted service could not
bind it)."""

from __future__ import annotations

import dataclasses
import os
import poplib
import signal
import smtplib
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e.processes import ProcessTracker, wait_for
from integration.pop3.support import ALICE, ALICE_PW

from shared.config import Settings

from .conftest import Hosted
from .support import ServiceProcess, visible_files

WORKERS = 3
TIMEOUT = 30.0


def children_of(pid: int) -> set[int]:
    """The live children of `pid` (a killed worker stays a zombie child until it is reaped)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces: the fields after its closing parenthesis are fixed.
            state, parent = stat.rpartition(")")[2].split()[:2]
            if int(parent) == pid and state != "Z":
                found.add(int(entry.name))
    return found


def is_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def send_mail(port: int, settings: Settings, number: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("someone@remote.example", [ALICE], f"Subject: {number}\r\n\r\n{number}\r\n".encode())
    assert len(visible_files(settings, ALICE)) == number + 1


def log_in(port: int, _settings: Settings, _number: int) -> None:
    client = poplib.POP3("127.0.0.1", port, timeout=10)
    client.user(ALICE)
    client.pass_(ALICE_PW)
    assert client.stat() == (0, 0)
    client.quit()


# service -> (the settings field for its worker count, for its main port, the listener name, one use of it)
SERVICES: dict[str, tuple[str, str, str, Callable[[int, Settings, int], None]]] = {
    "smtp": ("smtp_processes", "smtp_port", "mx", send_mail),
    "pop3": ("pop3_processes", "pop3_port", "pop3", log_in),
}


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


@pytest.mark.parametrize("service", SERVICES)
def test_workers_are_replaced_stopped_together_and_die_with_their_parent(
    service: str, settings: Settings, hosted: Hosted, processes: ProcessTracker
) -> None:
    count_field, port_field, listener, use = SERVICES[service]
    running = ServiceProcess(service, dataclasses.replace(settings, **{count_field: WORKERS}), processes)
    port = running.start()[listener]
    assert running.current is not None
    parent = running.current.process.pid
    wait_for(lambda: len(children_of(parent)) == WORKERS, TIMEOUT, f"{WORKERS} workers")
    workers = children_of(parent)
    uses = iter(range(4 * WORKERS))
    for _ in range(2 * WORKERS):  # connections spread over the workers; each must serve
        use(port, settings, next(uses))

    killed = next(iter(workers))
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: len(children_of(parent) - (workers - {killed})) == 1, TIMEOUT, "a replacement worker")
    for _ in range(2 * WORKERS):
        use(port, settings, next(uses))

    workers = children_of(parent)
    os.kill(parent, signal.SIGKILL)
    # A replacement forked just before the kill holds the sockets until it sees its parent gone.
    wait_for(
        lambda: not any(is_alive(pid) for pid in workers) and refuses_connections(port),
        TIMEOUT,
        "the workers to die with their parent and the port to close",
    )

    fixed_port = dataclasses.replace(settings, **{count_field: WORKERS, port_field: port})
    running = ServiceProcess(service, fixed_port, processes)
    assert running.start()[listener] == port  # no orphan holds the port: a new service binds it
    assert running.current is not None
    parent = running.current.process.pid
    wait_for(lambda: len(children_of(parent)) == WORKERS, TIMEOUT, f"{WORKERS} workers again")
    workers = children_of(parent)
    assert running.stop() == 0
    assert not any(is_alive(pid) for pid in workers)
