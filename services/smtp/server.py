"""The smtp service: MX, submission (STARTTLS) and submissions (implicit TLS) listeners plus
the outbound worker, in an asyncio process; `run_smtp(settings)`, what `beaconmail smtp` runs,
starts BEACONMAIL_SMTP_PROCESSES of them on shared sockets (shared/runtime/prefork.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import socket
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from services.smtp.auth import Authenticator
from services.smtp.handler import SmtpHandler
from services.smtp.protocol import IDLE_TIMEOUT, BeaconSMTP, Listener, ServerContext
from services.smtp.worker import OutboundWorker
from shared.config import Settings, passed_sockets
from shared.mail.routing import LocalMailbox
from shared.runtime import eventloop
from shared.runtime.accepting import Acceptor, WorkerLoads
from shared.runtime.connections import ConnectionsPerIp
from shared.runtime.prefork import listening_socket, run_workers, service_sockets
from shared.runtime.tls import ServedCertificate, keep_fresh
from shared.storage.db import Database, open_database
from shared.storage.directory_cache import DirectoryCache

log = logging.getLogger(__name__)

# Threads for the handler's blocking calls (database, fsync), per process: a few threads already
# overlap the fsync waits; more only contend for the GIL and the database's locks, and cost CPU
# per message. Six did best on both databases (bench/RESULTS.md).
BLOCKING_THREADS = 6
# aiosmtpd holds a whole DATA body in memory: bound how many sessions may do so at once.
DATA_MEMORY_BUDGET = 512 * 1024**2
MIN_DATA_SLOTS = 4


def listeners_for(settings: Settings) -> tuple[Listener, ...]:
    return (
        Listener("mx", settings.smtp_port, submission=False, implicit_tls=False),
        Listener("submission", settings.submission_port, submission=True, implicit_tls=False),
        Listener("submissions", settings.submissions_port, submission=True, implicit_tls=True),
    )


def data_slot_count(settings: Settings) -> int:
    return max(MIN_DATA_SLOTS, DATA_MEMORY_BUDGET // max(settings.max_message_size, 1))


@dataclass
class SmtpListeners:
    acceptors: dict[str, Acceptor]
    blocking: ThreadPoolExecutor
    following_directory: asyncio.Task[None] | None
    following_certificate: asyncio.Task[None]

    def port(self, name: str) -> int:
        return self.acceptors[name].port

    async def close(self) -> None:
        for acceptor in self.acceptors.values():
            acceptor.close()
        self.following_certificate.cancel()
        try:
            if self.following_directory is not None:
                self.following_directory.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.following_directory
        finally:
            self.blocking.shutdown(wait=False)


async def start_listeners(
    settings: Settings,
    db: Database,
    *,
    idle_timeout: float = IDLE_TIMEOUT,
    sockets: Mapping[str, socket.socket] | None = None,
    loads: WorkerLoads | None = None,
) -> SmtpListeners:
    """Serve every listener on its socket in `sockets`, or else bind it (port 0 picks a free
    port, as tests do). `loads`: the connection counts of the worker processes sharing the sockets."""
    certificate = ServedCertificate.of(settings)
    context = ServerContext(
        settings=settings,
        tls_context=certificate.context,
        authenticator=Authenticator(db),
        data_slots=asyncio.Semaphore(data_slot_count(settings)),
        connections=ConnectionsPerIp(settings.max_connections_per_ip, loads),
        idle_timeout=idle_timeout,
    )
    blocking = ThreadPoolExecutor(max_workers=BLOCKING_THREADS, thread_name_prefix="smtp")
    # On SQLite a recipient is read in the event loop at less than the cost of keeping it.
    recipients: DirectoryCache[LocalMailbox] | None = None if db.is_sqlite else DirectoryCache(db)
    handler = SmtpHandler(db, blocking, recipients)
    acceptors: dict[str, Acceptor] = {}
    for listener in listeners_for(settings):
        factory = functools.partial(BeaconSMTP, handler, listener=listener, context=context)
        tls = context.tls_context if listener.implicit_tls else None
        sock = sockets[listener.name] if sockets is not None else listening_socket(settings.bind, listener.port)
        acceptors[listener.name] = Acceptor(sock, factory, context.connections.loads, tls)
        log.info("smtp %s listening on %s:%s", listener.name, settings.bind, acceptors[listener.name].port)
    following = asyncio.create_task(recipients.follow_changes()) if recipients is not None else None
    # STARTTLS and implicit TLS share the one context, which a renewed certificate is loaded into.
    return SmtpListeners(acceptors, blocking, following, asyncio.create_task(keep_fresh(certificate)))


async def serve(
    settings: Settings, stop: asyncio.Event, sockets: Mapping[str, socket.socket], loads: WorkerLoads
) -> None:
    """Listen and deliver until `stop` is set."""
    db = open_database(settings)
    try:
        listeners = await start_listeners(settings, db, sockets=sockets, loads=loads)
        worker = asyncio.create_task(OutboundWorker(db).run(stop))
        await stop.wait()
        await listeners.close()
        await worker
    finally:
        db.dispose()


def run_smtp(settings: Settings, passed: Mapping[str, int] | None = None) -> None:
    """Entry point of `beaconmail smtp`: runs until SIGTERM or SIGINT, on the listening sockets
    `passed` by name, else those a service manager passed (LISTEN_FDS), else its own."""
    ports = {listener.name: listener.port for listener in listeners_for(settings)}
    sockets = service_sockets(settings.bind, ports, passed_sockets() if passed is None else passed)

    async def main(loads: WorkerLoads) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(settings, stop, sockets, loads)

    run_workers(settings.smtp_processes, lambda loads: eventloop.run(main(loads)))
