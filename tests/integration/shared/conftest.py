"""Helpers for the shared layer's integration tests.

Creating and migrating a PostgreSQL database costs seconds; these tests need dozens of
clean databases. So `database_url` is overridden here: PostgreSQL gets one migrated
database per test session, emptied (TRUNCATE) before each test; SQLite gets a copy of
a migrated template file. Migration tests use `postgres_url` for truly empty databases.
"""
from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import POSTGRES_ADMIN_URL, POSTGRES_UNAVAILABLE, base_settings
from sqlalchemy.engine import make_url

from shared import passwords
from shared.migrations import upgrade_to_head
from shared.models import Base


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "beaconmail.db"
    upgrade_to_head(base_settings(path.parent, database_url=f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def migrated_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated PostgreSQL database for the whole session, dropped at its end."""
    if POSTGRES_UNAVAILABLE:
        pytest.skip(POSTGRES_UNAVAILABLE)
    name = f"bm_shared_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        # Test data need not survive a server crash; every commit waiting for fsync makes tests crawl.
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    rendered = url.render_as_string(hide_password=False)
    upgrade_to_head(base_settings(tmp_path_factory.mktemp("pg"), database_url=rendered))
    yield rendered
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres(url: str) -> None:
    """DELETE, not TRUNCATE: on these small tables it is ten times faster."""
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(f'DELETE FROM "{table.name}"')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "data" / "beaconmail.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_template"), path)
        return f"sqlite:///{path}"
    url = str(request.getfixturevalue("migrated_postgres"))
    _empty_postgres(url)
    return url


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its cheapest, for tests that create many mailboxes and do not measure logins."""
    monkeypatch.setattr(passwords, "CONTEXT", passwords.CONTEXT.copy(argon2__memory_cost=1024, argon2__rounds=1))
