"""`beaconmail smtp` with several worker processes on shared sockets: a worker that dies is
replaced and mail keeps flowing; SIGTERM stops them all; a SIGKILLed parent takes its
workers with it, so no orphan keeps the port (a restarted service could not bind it)."""

from __future__ import annotations

import dataclasses
import os
import signal
import smtplib
import socket
from pathlib import Path

from e2e.processes import ProcessTracker, wait_for
from integration.pop3.support import ALICE
from shared.config import Settings

from .conftest import Hosted
from .support import ServiceProcess, visible_files

WORKERS = 3
TIMEOUT = 30.0


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces: the fields after its closing parenthesis are fixed.
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def is_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def send(port: int, tag: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("someone@remote.example", [ALICE], f"Subject: {tag}\r\n\r\n{tag}\r\n".encode())


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_workers_are_replaced_stopped_together_and_die_with_their_parent(
    settings: Settings, hosted: Hosted, processes: ProcessTracker
) -> None:
    smtp = ServiceProcess("smtp", dataclasses.replace(settings, smtp_processes=WORKERS), processes)
    port = smtp.start()["mx"]
    assert smtp.current is not None
    parent = smtp.current.process.pid
    wait_for(lambda: len(children_of(parent)) == WORKERS, TIMEOUT, f"{WORKERS} workers")
    workers = children_of(parent)
    for number in range(2 * WORKERS):  # connections spread over the workers; each must deliver
        send(port, f"before-{number}")

    killed = next(iter(workers))
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: len(children_of(parent) - (workers - {killed})) == 1, TIMEOUT, "a replacement worker")
    for number in range(2 * WORKERS):
        send(port, f"after-{number}")
    assert len(visible_files(settings, ALICE)) == 4 * WORKERS

    workers = children_of(parent)
    os.kill(parent, signal.SIGKILL)
    wait_for(lambda: not any(is_alive(pid) for pid in workers), TIMEOUT, "the workers to die with their parent")
    assert refuses_connections(port)

    smtp = ServiceProcess("smtp", dataclasses.replace(settings, smtp_processes=WORKERS, smtp_port=port), processes)
    assert smtp.start()["mx"] == port  # no orphan holds the port: a new service binds it
    assert smtp.current is not None
    parent = smtp.current.process.pid
    wait_for(lambda: len(children_of(parent)) == WORKERS, TIMEOUT, f"{WORKERS} workers again")
    workers = children_of(parent)
    assert smtp.stop() == 0
    assert not any(is_alive(pid) for pid in workers)
