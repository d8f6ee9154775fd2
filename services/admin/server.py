"""`beaconmail admin`: the portal under gunicorn; `beaconmail web`: the same portal over HTTPS,
with the plain HTTP port in front of it and the thread that keeps the certificate."""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from sqlalchemy.exc import SQLAlchemyError

from services.admin import create_app
from services.admin.front import FrontServer, KnownNames, bind_front, serve_in_thread
from shared.accounts.domains import list_domain_names
from shared.accounts.permissions import Scope
from shared.accounts.views import Actor
from shared.config import Settings
from shared.runtime.acme import certificate_names, follow_certificate
from shared.runtime.prefork import die_with_parent
from shared.runtime.proctitle import name_process
from shared.runtime.tls import ServedCertificate
from shared.storage.db import open_database

log = logging.getLogger(__name__)

THREADS_PER_WORKER = 4
STOP_POLL = 0.5
# The certificate thread reads which domains are hosted and changes nothing.
CERTIFICATE_READER = Actor(Scope("certificate", is_global_admin=True, read_only=True))


class AdminServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn with its options from Settings rather than a config file or argv."""

    def __init__(self, settings: Settings, workers: int) -> None:
        self.settings = settings
        self.workers = workers
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {
            "bind": f"{self.settings.bind}:{self.settings.admin_port}",
            "workers": self.workers,
            "worker_class": "gthread",
            "threads": THREADS_PER_WORKER,
            "accesslog": "-",
            "errorlog": "-",
            # Forwarded headers are ProxyFix's job (BEACONMAIL_PROXY_HOPS), not gunicorn's.
            "forwarded_allow_ips": "",
            "proc_name": "beaconmail-admin",
            # With setproctitle installed gunicorn titles its processes `gunicorn: master [...]` and
            # `gunicorn: worker [...]`; these hooks run after it did, so ours stay. The master
            # renames itself after `when_ready`, but before it forks each worker.
            "pre_fork": lambda _arbiter, _worker: name_process("admin"),
            "post_fork": lambda _arbiter, _worker: name_process("admin worker"),
            # The control socket sits at one fixed path per user: replicas would fight over it.
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app(self.settings)


def default_workers() -> int:
    return min(4, 2 * (os.cpu_count() or 1))


def run_admin(settings: Settings, workers: int | None = None) -> None:
    """Serve the portal until stopped; each worker builds its own app (and database pool)."""
    AdminServer(settings, workers or default_workers()).run()


class WebServer(AdminServer):
    """The portal on BEACONMAIL_HTTPS_PORT. Gunicorn asks its `ssl_context` hook for each new
    connection's context: ours hands out the shared pair as it is now, so a renewed certificate
    is served without a restart and open connections keep theirs."""

    def __init__(self, settings: Settings, workers: int, certificate: ServedCertificate) -> None:
        self.certificate = certificate
        super().__init__(settings, workers)

    def load_config(self) -> None:
        super().load_config()
        options: dict[str, Any] = {
            "bind": f"{self.settings.bind}:{self.settings.https_port}",
            "certfile": str(self.certificate.cert),
            "keyfile": str(self.certificate.key),
            "ssl_context": lambda _config, _default_factory: self.certificate.current(),
            "proc_name": "beaconmail-web",
            "pre_fork": lambda _arbiter, _worker: name_process("web"),
            "post_fork": lambda _arbiter, _worker: name_process("web worker"),
        }
        for key, value in options.items():
            self.cfg.set(key, value)


def keep_names_and_certificate(settings: Settings, names: KnownNames, stop: threading.Event) -> None:
    """Follow the hosted domains (the names a redirect may lead to) and, with ACME, the certificate."""
    db = open_database(settings)

    def current_names() -> list[str]:
        try:
            hosted = [name for name, _shown in list_domain_names(db, actor=CERTIFICATE_READER)]
        except SQLAlchemyError as exc:
            log.warning("hosted domains not read, keeping the names known: %s", exc)
            return names.current()
        wanted = certificate_names(settings.hostname, hosted)
        names.replace(wanted)
        return wanted

    try:
        if settings.acme_directory is not None:
            follow_certificate(settings, current_names, stop)
        else:
            current_names()
            while not stop.wait(settings.acme_check_interval):
                current_names()
    finally:
        db.dispose()


def serve_front(settings: Settings, front: FrontServer, names: KnownNames) -> None:
    """The plain HTTP port and the certificate thread, until SIGTERM or SIGINT."""
    serve_in_thread(front)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    keeper = threading.Thread(
        target=keep_names_and_certificate, args=(settings, names, stop), name="certificate", daemon=True
    )
    keeper.start()
    while not stop.wait(STOP_POLL):
        pass
    front.shutdown()


def _start_front_process(settings: Settings) -> int:
    """Bind the HTTP port here (a port taken stops the start), then fork the process that serves
    it, while this one has no threads: gunicorn forks its workers from this process, and a
    fork of a threaded process can inherit a lock some thread held."""
    names = KnownNames(settings.hostname)
    front = bind_front(settings, names)
    parent = os.getpid()
    pid = os.fork()
    if pid != 0:
        front.server_close()  # the child's now
        return pid
    code = 0
    try:
        die_with_parent(parent, signal.SIGTERM)
        name_process("web front")
        serve_front(settings, front, names)
    except BaseException:
        log.exception("the front door's HTTP port stopped")
        code = 1
    finally:
        os._exit(code)


def run_web(settings: Settings, workers: int | None = None) -> None:
    """Serve the front door until stopped: the portal over HTTPS in gunicorn, and beside it a
    process for the plain HTTP port (challenges, redirects) and the certificate."""
    certificate = ServedCertificate.of(settings)
    front = _start_front_process(settings)
    master = os.getpid()
    try:
        WebServer(settings, workers or default_workers(), certificate).run()
    finally:
        # gunicorn's workers are forked inside run() and leave through here too: only the
        # master stops the front.
        if os.getpid() == master:
            with contextlib.suppress(ProcessLookupError):
                os.kill(front, signal.SIGTERM)
            # gunicorn reaps every child it sees end, ours included.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(front, 0)
