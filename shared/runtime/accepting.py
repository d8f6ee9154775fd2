"""Serving a listening socket that several worker processes share (shared/runtime/prefork.py) so that
the connections are shared out evenly too.

asyncio's own server accepts up to 100 connections each time the socket turns readable, and
the first worker to wake takes a whole burst: POP3 or SMTP clients arriving together were, in
most benchmark runs, served by one process while the other idled (bench/RESULTS.md). An `Acceptor`
takes one connection per turn of its event loop, and only a worker that holds no more
connections than any other takes it at once; a busier one first leaves the least loaded
ACCEPT_GRACE to take it, so a connection never waits for long on a worker that is asleep.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import mmap
import socket
import ssl
from collections.abc import Callable

log = logging.getLogger(__name__)

# How long a worker holding more connections than another waits for that one to accept.
ACCEPT_GRACE = 0.005
# After the process ran out of file descriptors or memory, accepting pauses this long (as asyncio's does).
ACCEPT_RETRY_DELAY = 1.0
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class WorkerLoads:
    """The open connections of each worker process of a service, in memory they all share (an
    anonymous shared mapping made before the fork); each worker writes only its own count."""

    def __init__(self, workers: int = 1) -> None:
        self._counts = memoryview(mmap.mmap(-1, 8 * workers)).cast("q")
        self._own = 0

    def become(self, worker: int) -> None:
        """In a worker process: keep the count of worker `worker` (a replaced worker's starts at 0)."""
        self._own = worker
        self._counts[worker] = 0

    def change(self, connections: int) -> None:
        self._counts[self._own] += connections

    def is_least_loaded(self) -> bool:
        return self._counts[self._own] <= min(self._counts)


class Acceptor:
    """Accepts connections on `sock` (bound and listening) and gives each a protocol from `factory`,
    after the TLS handshake when `tls` is set. `close()` stops accepting and closes this process's
    handle of the socket; connections already accepted go on."""

    def __init__(
        self,
        sock: socket.socket,
        factory: Callable[[], asyncio.BaseProtocol],
        loads: WorkerLoads,
        tls: ssl.SSLContext | None = None,
        handshake_timeout: float | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        self._factory = factory
        self._loads = loads
        self._tls = tls
        self._handshake_timeout = handshake_timeout
        self._connecting: set[asyncio.Task[None]] = set()
        self._pause: asyncio.TimerHandle | None = None
        self._closed = False
        self._loop.add_reader(sock.fileno(), self._on_readable)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pause is not None:
            self._pause.cancel()
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        for task in self._connecting:  # handshakes not finished: no session has begun
            task.cancel()

    def _on_readable(self) -> None:
        if self._loads.is_least_loaded():
            self._accept_one()
        else:
            self._pause_for(ACCEPT_GRACE)

    def _pause_for(self, seconds: float) -> None:
        self._loop.remove_reader(self._sock.fileno())
        self._pause = self._loop.call_later(seconds, self._resume)

    def _resume(self) -> None:
        """After a pause a waiting connection is taken whatever the loads, then the socket is watched again."""
        self._pause = None
        self._loop.add_reader(self._sock.fileno(), self._on_readable)
        self._accept_one()

    def _accept_one(self) -> None:
        try:
            conn, _address = self._sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # another worker took it, or the client gave up while queued
        except OSError as error:
            if error.errno not in _OUT_OF_RESOURCES:
                raise  # the event loop logs it; the socket stays watched
            log.error("accepting on port %d paused for %.0f s: %s", self.port, ACCEPT_RETRY_DELAY, error)
            self._pause_for(ACCEPT_RETRY_DELAY)
            return
        conn.setblocking(False)
        # Counted while it is set up too: the service counts it from its protocol's start, a
        # loop turn or a TLS handshake later, and a burst must not find this worker idle till then.
        self._loads.change(+1)
        task = self._loop.create_task(self._connect(conn))
        self._connecting.add(task)
        task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[None]) -> None:
        self._connecting.discard(task)
        self._loads.change(-1)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(
                self._factory, conn, ssl=self._tls, ssl_handshake_timeout=self._handshake_timeout if self._tls else None
            )
        except (OSError, ssl.SSLError, TimeoutError) as error:  # the transport closed the socket
            log.info("connection on port %d dropped before it began: %s", self.port, error)
