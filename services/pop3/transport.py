"""The asyncio side of POP3: listeners that give each connection a Channel
(services.pop3.channel) and a Pop3Session, worker processes, and a graceful stop."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable, Mapping

from services.pop3.channel import HANDSHAKE_TIMEOUT, Channel
from services.pop3.session import LoginDelay, Pop3Session, SessionServices
from shared.config import Settings, passed_sockets
from shared.runtime import eventloop
from shared.runtime.accepting import Acceptor, WorkerLoads
from shared.runtime.connections import ConnectionsPerIp
from shared.runtime.prefork import listening_socket, run_workers, service_sockets
from shared.runtime.tls import ServedCertificate, keep_fresh
from shared.storage.db import Database, open_database

log = logging.getLogger(__name__)

# How long a stopping server waits for its sessions to end and release their leases. Ending takes
# one short transaction; a session stuck on an unreachable database (or sleeping off a failed
# login, holding no lease) is cancelled after this.
STOP_GRACE = 5.0
# In place of the greeting when an address holds too many sessions (RFC 3206 response code).
TOO_MANY_CONNECTIONS = b"-ERR [SYS/TEMP] Too many connections from your address, try again later\r\n"


class Pop3Server:
    """The POP3 listeners of one process: STLS on pop3_port, implicit TLS on pop3s_port."""

    def __init__(
        self,
        settings: Settings,
        sockets: tuple[socket.socket, socket.socket] | None = None,
        loads: WorkerLoads | None = None,
    ) -> None:
        """`sockets`: listening (STLS, implicit TLS) sockets to serve; by default they are bound
        here. `loads`: the connection counts of the worker processes that share them."""
        self.settings = settings
        self._sockets = sockets
        self._db: Database | None = None
        self._listeners: list[Acceptor] = []
        self._sessions: dict[asyncio.Task[None], Channel] = {}
        self._connections = ConnectionsPerIp(settings.max_connections_per_ip, loads)
        self._following_certificate: asyncio.Task[None] | None = None

    @property
    def ports(self) -> tuple[int, int]:
        """(STLS port, implicit-TLS port) as bound; useful when configured as 0."""
        plain, implicit = (listener.port for listener in self._listeners)
        return plain, implicit

    async def start(self) -> None:
        certificate = await asyncio.to_thread(ServedCertificate.of, self.settings)
        context = certificate.context  # STLS and port 995 alike; a renewed certificate is loaded into it
        self._following_certificate = asyncio.get_running_loop().create_task(keep_fresh(certificate))
        self._db = await asyncio.to_thread(open_database, self.settings)
        services = SessionServices(self._db, context, LoginDelay(self.settings.login_delay))
        bind = self.settings.bind
        plain_socket, implicit_socket = self._sockets or (
            listening_socket(bind, self.settings.pop3_port),
            listening_socket(bind, self.settings.pop3s_port),
        )
        loads = self._connections.loads
        self._listeners = [
            Acceptor(plain_socket, lambda: Channel(self._opener(services, False)), loads),
            Acceptor(implicit_socket, lambda: Channel(self._opener(services, True)), loads, context, HANDSHAKE_TIMEOUT),
        ]
        plain, implicit = self.ports
        log.info("POP3 listening on %s port %d (STLS) and port %d (implicit TLS)", bind, plain, implicit)

    def _opener(self, services: SessionServices, implicit_tls: bool) -> Callable[[Channel], None]:
        def open_session(channel: Channel) -> None:
            ip = channel.peer
            if not self._connections.admit(ip):
                log.warning("refusing a POP3 connection from %s: %d open already", ip, self._connections.held_by(ip))
                channel.close(TOO_MANY_CONNECTIONS)
                return
            task = asyncio.get_running_loop().create_task(Pop3Session(services, channel, implicit_tls).run())
            self._sessions[task] = channel
            task.add_done_callback(self._forget)
            task.add_done_callback(lambda _task: self._connections.release(ip))

        return open_session

    def _forget(self, task: asyncio.Task[None]) -> None:
        del self._sessions[task]

    async def stop(self) -> None:
        """Stop listening and hang up on every client; leases are released, nothing is deleted.

        Sessions are not cancelled: one cancelled while ending (a client that just hung up)
        would skip releasing its lease and lock its user out until the lease expires. Hung up
        on, each ends as on a dropped connection, at its next read or write. Only a session
        still running after STOP_GRACE (stuck on the database) is cancelled.
        """
        for listener in self._listeners:
            listener.close()
        if self._following_certificate is not None:
            self._following_certificate.cancel()
        for channel in self._sessions.values():
            channel.abort()
        if self._sessions:
            _ended, stuck = await asyncio.wait(list(self._sessions), timeout=STOP_GRACE)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        if self._db is not None:
            self._db.dispose()


def serve_pop3(settings: Settings, passed: Mapping[str, int] | None = None) -> None:
    """Run the POP3 service until SIGINT or SIGTERM: the `beaconmail pop3` command, in
    BEACONMAIL_POP3_PROCESSES worker processes on shared sockets (shared/runtime/prefork.py):
    those `passed` by name, else those a service manager passed (LISTEN_FDS), else its own."""
    ports = {"pop3": settings.pop3_port, "pop3s": settings.pop3s_port}
    listening = service_sockets(settings.bind, ports, passed_sockets() if passed is None else passed)
    sockets = (listening["pop3"], listening["pop3s"])
    run_workers(settings.pop3_processes, lambda loads: eventloop.run(_serve_until_signalled(settings, sockets, loads)))


async def _serve_until_signalled(
    settings: Settings, sockets: tuple[socket.socket, socket.socket], loads: WorkerLoads
) -> None:
    server = Pop3Server(settings, sockets, loads)
    await server.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        log.info("POP3 shutting down")
        await server.stop()
