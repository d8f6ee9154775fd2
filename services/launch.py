"""Running one service in the foreground: as `beaconmail smtp|pop3|imap|admin|web`, and as a child of `up`."""
from __future__ import annotations

import ctypes
import logging
import platform
import socket
from collections.abc import Mapping

from shared.config import Settings
from shared.runtime.prefork import listening_socket
from shared.runtime.proctitle import name_process

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
M_MMAP_THRESHOLD = -3  # glibc <malloc.h>
# Far below argon2's work area, above asyncio's 256 KiB receive buffers: lower, every recv became
# an mmap, mremap and munmap of its own; at 1 MiB idle sessions cost as little (bench/RESULTS.md).
MMAP_THRESHOLD = 1024 * 1024


class StartupError(Exception):
    """A service could not start (a port taken, an unreadable certificate); the message is one line."""


def hold_port(bind: str, port: int) -> socket.socket:
    """A listening socket on `port`, or OSError saying which address could not be bound."""
    try:
        return listening_socket(bind, port)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot listen on {bind}:{port}: {exc.strerror}") from exc


def claim_port(bind: str, port: int) -> None:
    """Raise OSError now if `port` cannot be bound (gunicorn would retry for 5 s, then exit 1)."""
    hold_port(bind, port).close()


def return_big_blocks_to_the_system() -> None:
    """Make glibc serve every allocation of MMAP_THRESHOLD or more by its own mmap, unmapped on free.

    Each password check allocates argon2's 19 MiB work area. By default glibc raises its mmap
    threshold past a block that size once it is freed, so the next ones come from the heap
    arenas of the worker threads, which keep the memory: several times what an idle POP3 session
    needs (bench/RESULTS.md). A fixed threshold also stops that adjustment. Other C
    libraries do not have this option: there it does nothing.
    """
    if platform.libc_ver()[0] == "glibc":
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def serve(
    service: str, settings: Settings, *, admin_workers: int | None = None, passed: Mapping[str, int] | None = None
) -> None:
    """Run `service` until SIGINT or SIGTERM. Each branch imports only its own service, so
    starting one stays quick. `passed`: listening sockets by name for smtp and pop3, in place of
    those a service manager passes (LISTEN_FDS)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    name_process(service)
    if service in ("smtp", "pop3"):  # long-lived processes that check passwords in threads
        return_big_blocks_to_the_system()
    try:
        if service == "smtp":
            from services.smtp.server import run_smtp

            run_smtp(settings, passed)
        elif service == "pop3":
            from services.pop3.transport import serve_pop3

            serve_pop3(settings, passed)
        elif service == "imap":
            from services.imap.server import DovecotMissing, run_imap

            try:
                run_imap(settings)
            except DovecotMissing as exc:
                raise StartupError(str(exc)) from exc
        elif service == "web":
            from services.admin.server import run_web

            claim_port(settings.bind, settings.https_port)
            run_web(settings, admin_workers)
        else:
            from services.admin.server import run_admin

            claim_port(settings.bind, settings.admin_port)
            run_admin(settings, admin_workers)
    except OSError as exc:
        raise StartupError(f"{service}: {exc}") from exc
