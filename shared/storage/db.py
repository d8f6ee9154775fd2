"""Engine and session factory for a Settings; no models here."""
from __future__ import annotations

import contextlib
import fcntl
import functools
import math
import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import sessionmaker

from shared.config import Settings

# A pooled connection unused for this long is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "beacon_idle_since"
# Execution option marking an engine whose transactions only read (see _begin).
READ_ONLY = "beacon_read_only"


class Database:
    """One engine and its session factories. Use cases open `with db.session.begin() as s:`;
    a use case that only reads opens `db.read_session.begin()` (or a Core connection of
    `db.read_engine`), which on SQLite does not queue behind writers for the write lock."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.session = sessionmaker(self.engine, expire_on_commit=False)
        self.read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self.read_session = sessionmaker(self.read_engine, expire_on_commit=False)
        self.sqlite_writer = SqliteWriterLock(sqlite_file(settings.database_url))  # see shared.storage.rawsql

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def create_private_sqlite_file(path: Path | None) -> None:
    """Create an empty SQLite database readable by its owner alone (it holds password hashes);
    SQLite gives its -wal and -shm files the database file's mode. An existing file is left as it is."""
    if path is None:
        return
    # There already, or no folder for it: SQLite says so in its own words when it opens the file.
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class SqliteWriterLock:
    """Queues the writers of shared.storage.rawsql transactions (a delivery's quota reservation) for
    SQLite's single write lock: those of this process on a threading lock, those of other
    processes (the smtp workers) on an flock of a file beside the database. Both wake the next
    writer the moment the lock is free, where SQLite's busy handler sleeps between tries: with
    four smtp workers it slept about once per delivered message."""

    def __init__(self, database_file: Path | None) -> None:
        self._threads = threading.Lock()
        self._path = None if database_file is None else database_file.with_name(database_file.name + ".writer-lock")
        self._fd: int | None = None
        self._fd_pid = 0  # flock is shared by processes that share an open file: open one per process

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._path is not None:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        try:
            if self._path is not None:
                fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int:
        if self._fd is None or self._fd_pid != os.getpid():
            assert self._path is not None
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._fd_pid = os.getpid()
        return self._fd


def libpq_conninfo(url: str) -> str:
    """A PostgreSQL URL as libpq's key='value' connection string, for connections made outside
    SQLAlchemy (the directory cache's LISTEN, Dovecot's SQL driver): values are quoted, so no
    URL encoding is needed, and the URL's query parameters (sslmode, a socket folder as host)
    are libpq's keywords already."""
    parsed = make_url(url)
    pairs: dict[str, object] = {
        "host": parsed.host, "port": parsed.port, "dbname": parsed.database,
        "user": parsed.username, "password": parsed.password,
    }
    pairs |= {key: value if isinstance(value, str) else value[-1] for key, value in parsed.query.items()}
    return " ".join(f"{key}='{_libpq_quoted(str(value))}'" for key, value in pairs.items() if value not in (None, ""))


def _libpq_quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        create_private_sqlite_file(sqlite_file(url))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    event.listen(engine, "checkin", _note_idle_since)
    event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


def _note_idle_since(_dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A connection left in the pool for a while may have died with a database restart; one
    in steady use has just shown that it lives. (pool_pre_ping pinged on every checkout: two
    more round trips per SMTP message.) Raising DisconnectionError makes the pool open a new one."""
    if time.monotonic() - record.info.get(_IDLE_SINCE, math.inf) < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as error:
        raise DisconnectionError("a pooled database connection had died") from error


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (POP3, portal) run beside the one writer; foreign keys are off by default.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin(connection: Any) -> None:
    # A writer takes the write lock at BEGIN: a deferred transaction that upgrades to a
    # writer later can fail with "database is locked" instead of waiting. A reader needs
    # no lock at all in WAL mode, so it must not wait for one.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def open_database(settings: Settings) -> Database:
    """The service's database; its schema is brought up to date by shared.storage.migrations
    (`beaconmail init`), which builds on this module and not the other way round."""
    return Database(settings)
