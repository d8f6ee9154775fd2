"""Run one Beacon service on an ephemeral port for a benchmark, configured by BEACONMAIL_*
variables; prints {"port": N} once listening and runs until SIGTERM.

    python -m bench.serve_beacon smtp|pop3

SMTP runs the MX listener set of services.smtp.server.start_listeners without the outbound
worker (benchmarks deliver locally only); POP3 runs services.pop3.transport.Pop3Server.
"""
from __future__ import annotations

import asyncio
import json
import signal
import sys

from shared.config import load_settings
from shared.db import open_database

from services.pop3.transport import Pop3Server
from services.smtp.server import start_listeners


async def _until_terminated() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def _announce(port: int) -> None:
    print(json.dumps({"port": port}), flush=True)


async def serve_smtp() -> None:
    settings = load_settings()
    db = open_database(settings)
    listeners = await start_listeners(settings, db)
    _announce(listeners.port("mx"))
    try:
        await _until_terminated()
    finally:
        await listeners.close()
        db.dispose()


async def serve_pop3() -> None:
    server = Pop3Server(load_settings())
    await server.start()
    _announce(server.ports[0])
    try:
        await _until_terminated()
    finally:
        await server.stop()


if __name__ == "__main__":
    asyncio.run({"smtp": serve_smtp, "pop3": serve_pop3}[sys.argv[1]]())
