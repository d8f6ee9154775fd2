"""Run one Beacon service on an ephemeral port for a benchmark, configured by BEACONMAIL_*
variables; prints {"port": N} once listening and runs until SIGTERM.

    python -m bench.serve_beacon smtp|smtp-unchecked|smtp-unlogged|pop3

Each runs as `beaconmail smtp|pop3` does (the malloc setting of services/launch.py, worker
processes on shared sockets: BEACONMAIL_SMTP_PROCESSES, BEACONMAIL_POP3_PROCESSES), except
that SMTP runs without the outbound worker (benchmarks deliver locally only).
`smtp-unchecked` is the MX without sender authentication (no SPF, DKIM, DMARC, ARC lookups,
no Authentication-Results): the baseline of bench/mx_checks.py. `smtp-unlogged` writes no
message log: the baseline of bench/message_log_cost.py.
"""
from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys

from services.launch import return_big_blocks_to_the_system
from services.pop3.transport import Pop3Server
from services.smtp.handler import SmtpHandler
from services.smtp.server import listeners_for, start_listeners
from shared.config import Settings, load_settings
from shared.mail.authentication.inbound import InboundDecision
from shared.runtime import eventloop
from shared.runtime.accepting import WorkerLoads
from shared.runtime.prefork import listening_socket, run_workers
from shared.storage.db import open_database


async def _until_terminated() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def _announce(port: int) -> None:
    print(json.dumps({"port": port}), flush=True)


def serve_smtp() -> None:
    settings = load_settings()
    sockets = {listener.name: listening_socket(settings.bind, listener.port) for listener in listeners_for(settings)}
    _announce(sockets["mx"].getsockname()[1])
    run_workers(settings.smtp_processes, lambda loads: eventloop.run(_smtp_worker(settings, sockets, loads)))


async def _smtp_worker(settings: Settings, sockets: dict[str, socket.socket], loads: WorkerLoads) -> None:
    db = open_database(settings)
    listeners = await start_listeners(settings, db, sockets=sockets, loads=loads)
    try:
        await _until_terminated()
    finally:
        await listeners.close()
        db.dispose()


def serve_smtp_unchecked() -> None:
    async def no_checks(self: SmtpHandler, server: object, session: object, envelope: object, content: bytes) -> object:
        return InboundDecision(b"", content, None, frozenset())

    SmtpHandler._inbound_decision = no_checks  # type: ignore[method-assign,assignment]
    serve_smtp()


def serve_smtp_unlogged() -> None:
    """The baseline of bench/message_log_cost.py: messages accepted without an origin, so
    shared.mail.mailflow writes no message log entry (as for mail the system writes itself)."""
    SmtpHandler._origin = staticmethod(lambda *_args: None)  # type: ignore[method-assign,assignment]
    serve_smtp()


def serve_pop3() -> None:
    settings = load_settings()
    sockets = (listening_socket(settings.bind, settings.pop3_port), listening_socket(settings.bind, settings.pop3s_port))
    _announce(sockets[0].getsockname()[1])
    run_workers(settings.pop3_processes, lambda loads: eventloop.run(_pop3_worker(settings, sockets, loads)))


async def _pop3_worker(settings: Settings, sockets: tuple[socket.socket, socket.socket], loads: WorkerLoads) -> None:
    server = Pop3Server(settings, sockets, loads)
    await server.start()
    try:
        await _until_terminated()
    finally:
        await server.stop()


if __name__ == "__main__":
    return_big_blocks_to_the_system()
    services = {"smtp": serve_smtp, "smtp-unchecked": serve_smtp_unchecked, "smtp-unlogged": serve_smtp_unlogged}
    {**services, "pop3": serve_pop3}[sys.argv[1]]()
