"""A Beacon Mail instance for one benchmark: its own data dir and database (SQLite file, or a
fresh PostgreSQL database `bench_<pid>_<n>` dropped afterwards), provisioned through `shared`,
with its services run as child processes (bench/serve_beacon.py) so their CPU and memory
can be read from /proc apart from the load client's."""
from __future__ import annotations

import dataclasses
import itertools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench import common
from shared.accounts import create_domain, create_mailbox
from shared.accounts.views import CONSOLE
from shared.config import Settings, load_settings
from shared.storage import directory_cache
from shared.storage.db import Database
from shared.storage.migrations import upgrade_to_head

DOMAIN = "bench.test"
PASSWORD = "secret"
POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgresql")
_INSTANCE_NUMBERS = itertools.count(1)
REPO_ROOT = Path(__file__).resolve().parent.parent


def address(number: int) -> str:
    return f"user{number}@{DOMAIN}"


def password_hash() -> str:
    """One argon2id hash of PASSWORD (the project's default scheme), reused for every mailbox on
    both sides: Dovecot's passwd-file gets the same string as {ARGON2ID}."""
    cached = Path(os.environ.get("BENCH_DIR", "/tmp/beaconbench")) / "password.hash"
    if cached.exists():
        return cached.read_text().strip()
    from shared.accounts.passwords import hash_password

    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(hash_password(PASSWORD))
    return cached.read_text().strip()


@dataclass
class BeaconInstance:
    backend: str
    root: Path
    settings: Settings
    db: Database

    def environment(self) -> dict[str, str]:
        """BEACONMAIL_* variables that make load_settings() in a child give these settings."""
        values = {
            "DATA_DIR": str(self.settings.data_dir),
            "MAIL_ROOT": str(self.settings.mail_root),
            "DATABASE_URL": self.settings.database_url,
            "HOSTNAME": self.settings.hostname,
            "SECRET_KEY": self.settings.secret_key,
            "SMTP_PORT": "0",
            "SUBMISSION_PORT": "0",
            "SUBMISSIONS_PORT": "0",
            "POP3_PORT": "0",
            "POP3S_PORT": "0",
            # Every benchmark client connects from 127.0.0.1, up to 1,000 sessions at once.
            "MAX_CONNECTIONS_PER_IP": "0",
        }
        return {**os.environ, **{f"BEACONMAIL_{key}": value for key, value in values.items()}}

    def maildir(self, number: int) -> Path:
        return self.settings.mail_root / DOMAIN / f"user{number}"

    def create_mailboxes(self, count: int, start: int = 0) -> None:
        """Mailboxes user<start>..user<start+count-1>, one create_mailbox() call each."""
        stored = password_hash()
        for number in range(start, start + count):
            create_mailbox(self.db, address(number), stored, password_is_hash=True, actor=CONSOLE)


def forget_directory_caches(instance: BeaconInstance) -> None:
    """Make the running services forget the recipients they keep, as a change of the directory does."""
    if instance.db.is_sqlite:
        return  # nothing is kept there
    with instance.db.engine.connect() as connection:
        connection.exec_driver_sql(f"NOTIFY {directory_cache.CHANNEL}")
        connection.commit()


@contextmanager
def _database_url(backend: str, root: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{root / 'data' / 'beaconmail.db'}"
        return
    name = f"bench_{os.getpid()}_{next(_INSTANCE_NUMBERS)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    host_part = POSTGRES_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql+psycopg://{host_part}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def beacon_instance(work_dir: Path, backend: str) -> Iterator[BeaconInstance]:
    """A migrated, empty instance with the bench domain; removed (files and database) afterwards."""
    root = work_dir / f"beacon-{os.getpid()}-{backend}-{next(_INSTANCE_NUMBERS)}"
    (root / "data").mkdir(parents=True)
    with common.graveyard(work_dir) as graveyard:
        try:
            with _instance(root, backend) as instance:
                yield instance
        finally:
            graveyard.bury(root)


@contextmanager
def _instance(root: Path, backend: str) -> Iterator[BeaconInstance]:
    with _database_url(backend, root) as url:
        environ = {
            "BEACONMAIL_DATA_DIR": str(root / "data"),
            "BEACONMAIL_DATABASE_URL": url,
            "BEACONMAIL_HOSTNAME": f"mx.{DOMAIN}",
            "BEACONMAIL_SECRET_KEY": "bench-secret-key",
        }
        settings = dataclasses.replace(load_settings(environ), smtp_port=0, pop3_port=0, pop3s_port=0)
        upgrade_to_head(settings)
        db = Database(settings)
        try:
            create_domain(db, DOMAIN, actor=CONSOLE)
            yield BeaconInstance(backend, root, settings, db)
        finally:
            db.dispose()


@dataclass
class ServiceProcess:
    process: subprocess.Popen[str]
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def running_service(
    instance: BeaconInstance, service: str, settings: dict[str, str] | None = None
) -> Iterator[ServiceProcess]:
    """`service` ("smtp" or "pop3") in a child process; yields once it listens. `settings`: more
    BEACONMAIL_* variables for it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.serve_beacon", service],
        cwd=REPO_ROOT,
        env={**instance.environment(), **(settings or {})},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        if not ready:
            raise RuntimeError(f"beacon {service} exited before listening (code {process.wait()})")
        yield ServiceProcess(process, int(json.loads(ready)["port"]))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
