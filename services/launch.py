"""Running one service in the foreground: as `beaconmail smtp|pop3|admin`, and as a child of `up`."""
from __future__ import annotations

import logging
import socket

from shared.config import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class StartupError(Exception):
    """A service could not start (a port taken, an unreadable certificate); the message is one line."""


def claim_port(bind: str, port: int) -> None:
    """Raise OSError now if `port` cannot be bound (gunicorn would retry for 5 s, then exit 1)."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind, port))
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen on {bind}:{port}: {exc.strerror}") from exc


def serve(service: str, settings: Settings, *, admin_workers: int | None = None) -> None:
    """Run `service` until SIGINT or SIGTERM. Each branch imports only its own service, so
    starting one stays quick."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        if service == "smtp":
            from services.smtp.server import run_smtp

            run_smtp(settings)
        elif service == "pop3":
            from services.pop3.transport import serve_pop3

            serve_pop3(settings)
        else:
            from services.admin.server import run_admin

            claim_port(settings.bind, settings.admin_port)
            run_admin(settings, admin_workers)
    except OSError as exc:
        raise StartupError(f"{service}: {exc}") from exc
