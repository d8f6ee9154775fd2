"""Is the database's schema the one this code expects? Every command and service asks before it
starts, so the answer comes without importing Alembic (a third of a CLI command's start-up): the
head is the newest file in migrations/versions, whose names begin with their revision id
(tests/integration/shared/test_migrations.py holds Alembic's own head to that rule)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, text

VERSIONS_DIR = Path(__file__).parent / "migrations" / "versions"
VERSION_TABLE = "alembic_version"


class SchemaNotReady(Exception):
    """The database is missing the schema or is behind the code."""


def head_revision() -> str:
    return max(path.name.split("_", 1)[0] for path in VERSIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"))


def ensure_at_head(engine: Engine) -> None:
    """Refuse to run against a database that `beaconmail init` has not brought to head."""
    with engine.connect() as connection:
        current = (
            connection.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))
            if inspect(connection).has_table(VERSION_TABLE)
            else None
        )
    if current is None:
        raise SchemaNotReady("the database is not initialised: run `beaconmail init`")
    if current != head_revision():
        raise SchemaNotReady("the database schema is not up to date: run `beaconmail init`")
