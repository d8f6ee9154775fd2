"""Run one Beacon service on an ephemeral port for a benchmark, configured by BEACONMAIL_*
variables; prints {"port": N} once listening and runs until SIGTERM.

    python -m bench.serve_beacon smtp|pop3

SMTP runs the listeners of services.smtp.server.start_listeners in BEACONMAIL_SMTP_PROCESSES
worker processes without the outbound worker (benchmarks deliver locally only); POP3 runs
services.pop3.transport.Pop3Server.
"""
from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys

from shared.config import Settings, load_settings
from shared.db import open_database

from services.pop3.transport import Pop3Server
from shared.prefork import listening_socket, run_workers
from services.smtp.server import listeners_for, start_listeners


async def _until_terminated() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def _announce(port: int) -> None:
    print(json.dumps({"port": port}), flush=True)


def serve_smtp() -> None:
    """BEACONMAIL_SMTP_PROCESSES workers on shared sockets, as `beaconmail smtp` runs them."""
    settings = load_settings()
    sockets = {listener.name: listening_socket(settings.bind, listener.port) for listener in listeners_for(settings)}
    _announce(sockets["mx"].getsockname()[1])
    run_workers(settings.smtp_processes, lambda: asyncio.run(_smtp_worker(settings, sockets)))


async def _smtp_worker(settings: Settings, sockets: dict[str, socket.socket]) -> None:
    db = open_database(settings)
    listeners = await start_listeners(settings, db, sockets=sockets)
    try:
        await _until_terminated()
    finally:
        await listeners.close()
        db.dispose()


def serve_pop3() -> None:
    asyncio.run(_serve_pop3())


async def _serve_pop3() -> None:
    server = Pop3Server(load_settings())
    await server.start()
    _announce(server.ports[0])
    try:
        await _until_terminated()
    finally:
        await server.stop()


if __name__ == "__main__":
    {"smtp": serve_smtp, "pop3": serve_pop3}[sys.argv[1]]()
