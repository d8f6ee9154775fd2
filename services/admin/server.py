"""`beaconmail admin`: the portal under gunicorn."""
from __future__ import annotations

import os
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from services.admin import create_app
from shared.config import Settings
from shared.runtime.proctitle import name_process

THREADS_PER_WORKER = 4


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
