"""Worker processes sharing a listening socket share its connections out by their loads."""

from __future__ import annotations

import asyncio
import copy
import errno
import os
import socket
import time

import pytest

from shared.runtime import accepting
from shared.runtime.accepting import Acceptor, WorkerLoads
from shared.runtime.prefork import listening_socket


class Recording(asyncio.Protocol):
    """Notes which worker a connection went to."""

    def __init__(self, worker: str, served: list[str]) -> None:
        self.worker = worker
        self.served = served

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.served.append(self.worker)


def loads_of_two_workers() -> tuple[WorkerLoads, WorkerLoads]:
    """Two workers' views of one set of counts, as two forked processes have."""
    first = WorkerLoads(2)
    second = copy.copy(first)
    first.become(0)
    second.become(1)
    return first, second


def queued_connections(sock: socket.socket, count: int) -> list[socket.socket]:
    """Clients connected (the kernel completes the handshake) before anyone accepts."""
    return [socket.create_connection(sock.getsockname()) for _ in range(count)]


async def served_when(served: list[str], count: int) -> None:
    while len(served) < count:
        await asyncio.sleep(0.001)


def serve_queued(clients: int, workers: dict[str, WorkerLoads]) -> list[str]:
    """Which worker each of `clients` connections, queued before any accepts, went to."""
    served: list[str] = []

    async def scenario() -> None:
        with listening_socket("127.0.0.1", 0) as sock:
            connected = queued_connections(sock, clients)
            acceptors = [
                Acceptor(sock.dup(), lambda name=name: Recording(name, served), loads) for name, loads in workers.items()
            ]
            await asyncio.wait_for(served_when(served, clients), 10)
            for acceptor in acceptors:
                acceptor.close()
            for client in connected:
                client.close()

    asyncio.run(scenario())
    return served


def test_a_busier_worker_leaves_new_connections_to_the_least_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accepting, "ACCEPT_GRACE", 30.0)  # the idle worker is never late here
    busy, idle = loads_of_two_workers()
    busy.change(+3)
    assert serve_queued(3, {"busy": busy, "idle": idle}) == ["idle"] * 3


def test_equal_workers_take_turns() -> None:
    first, second = loads_of_two_workers()
    served = serve_queued(10, {"first": first, "second": second})
    # asyncio's own server would have accepted all ten in the first worker's first turn.
    assert 4 <= served.count("first") <= 6


def seconds_until_served(sock: socket.socket, loads: WorkerLoads) -> float:
    """From a client's connect until an Acceptor on `sock` (which it closes) gave it a protocol."""
    served: list[str] = []

    async def scenario() -> float:
        client = socket.create_connection(sock.getsockname())
        start = time.monotonic()
        acceptor = Acceptor(sock, lambda: Recording("worker", served), loads)
        await asyncio.wait_for(served_when(served, 1), 10)
        waited = time.monotonic() - start
        acceptor.close()
        client.close()
        return waited

    return asyncio.run(scenario())


def test_a_busier_worker_takes_the_connection_when_no_other_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accepting, "ACCEPT_GRACE", 0.2)
    busy, _absent = loads_of_two_workers()
    busy.change(+1)
    assert seconds_until_served(listening_socket("127.0.0.1", 0), busy) >= 0.2


class OutOfDescriptorsOnce(socket.socket):
    """A listening socket whose first accept() fails as in a process at its file limit."""

    failed = False

    def accept(self) -> tuple[socket.socket, object]:
        if not self.failed:
            self.failed = True
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return super().accept()


def test_running_out_of_descriptors_pauses_accepting_and_loses_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accepting, "ACCEPT_RETRY_DELAY", 0.2)
    sock = OutOfDescriptorsOnce(fileno=listening_socket("127.0.0.1", 0).detach())
    assert seconds_until_served(sock, WorkerLoads()) >= 0.2
    assert sock.failed


def test_loads_are_shared_with_forked_workers() -> None:
    loads = WorkerLoads(2)
    loads.become(0)
    loads.change(+2)
    pid = os.fork()
    if pid == 0:
        loads.become(1)
        loads.change(+5)
        os._exit(0)
    os.waitpid(pid, 0)
    # Only if the child's 5 is seen is the parent's 2 the least.
    assert loads.is_least_loaded()
