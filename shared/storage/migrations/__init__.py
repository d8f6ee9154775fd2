"""Alembic, driven from Settings (no alembic.ini). `upgrade_to_head` is what `beaconmail init` runs."""
from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from shared.config import Settings
from shared.storage.db import make_engine, sqlite_file

MIGRATIONS_DIR = Path(__file__).parent
# Any fixed number: every process that migrates takes the same PostgreSQL advisory lock.
PG_MIGRATION_LOCK = 0x6265_6163


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(settings: Settings) -> None:
    """Bring the database to the newest schema; safe to run twice and from several processes at once."""
    engine = make_engine(settings.database_url)
    try:
        with _migration_lock(settings.database_url), engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_MIGRATION_LOCK})
                connection.commit()
            command.upgrade(alembic_config(connection), "head")
            connection.commit()
    finally:
        engine.dispose()


@contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """SQLite has no advisory locks: serialise on a lock file beside the database file."""
    db_path = sqlite_file(url)
    if db_path is None:
        yield
        return
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with open(db_path.with_name(db_path.name + ".migrate-lock"), "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield
