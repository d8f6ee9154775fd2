"""Fixtures shared by every test: settings on a temporary data folder, and a migrated
database on SQLite and on the PostgreSQL server (a fresh database per test)."""
from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from shared.config import Settings, load_settings
from shared.storage.db import Database
from shared.storage.migrations import upgrade_to_head
from tests.acme_server import SHORT_LIVED_SECONDS, Pebble

POSTGRES_ADMIN_URL = os.environ.get("BEACONMAIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI") == "true"


def require_programs(*names: str, install_hint: str) -> None:
    """Skip a test whose programs are missing, naming them; fail it under CI=true, where
    .ci/run installs them, so a CI machine without them cannot pass by skipping."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        reason = f"not installed: {', '.join(missing)} ({install_hint})"
        if IN_CI:
            pytest.fail(f"CI=true requires them: {reason}")
        pytest.skip(reason)


def require_user_attributes(folder: Path) -> None:
    """Skip a test that needs user extended attributes (POP3 UIDLs kept on the inode) where
    `folder`'s filesystem keeps none."""
    probe = folder / ".xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.probe", b"1")
    except OSError as exc:
        pytest.skip(f"no user attributes on {folder}: {exc}")
    finally:
        probe.unlink()


def _postgres_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when the server answers."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} does not answer: {str(exc).splitlines()[0]}"


POSTGRES_UNAVAILABLE = _postgres_reason()


def pytest_configure(config: pytest.Config) -> None:
    if POSTGRES_UNAVAILABLE and IN_CI:
        raise pytest.UsageError(f"CI=true requires PostgreSQL: {POSTGRES_UNAVAILABLE}")


def base_settings(data_dir: Path, **overrides: object) -> Settings:
    """Embedded defaults on `data_dir`, with every listener on an ephemeral port."""
    settings = load_settings(
        {
            "BEACONMAIL_DATA_DIR": str(data_dir),
            "BEACONMAIL_HOSTNAME": "mx.test.example",
            "BEACONMAIL_SECRET_KEY": "test-secret-key",
        }
    )
    ports = dict(
        smtp_port=0, submission_port=0, submissions_port=0, pop3_port=0, pop3s_port=0, admin_port=0, imap_port=0, imaps_port=0
    )
    # Every test client connects from 127.0.0.1, some tests with 50 sessions and more at once;
    # tests/adversarial/test_connection_floods.py sets a cap of its own.
    uncapped = dict(max_connections_per_ip=0)
    # The fixtures' passwords ("alice-pw") predate BEACONMAIL_PASSWORD_MIN_LENGTH; the rule's own
    # tests (tests/integration/shared/test_logins.py and the edges') set it back to its default.
    short_passwords = dict(password_min_length=1)
    return dataclasses.replace(settings, **(ports | uncapped | short_passwords | overrides))  # type: ignore[arg-type]


def _create_postgres_database(name: str, template: str | None = None) -> None:
    clause = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"{clause}')
        # Test data need not survive a server crash; waiting for fsync at every commit makes tests crawl.
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


def _drop_postgres_database(name: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_url(name: str) -> str:
    return make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped after the test."""
    if POSTGRES_UNAVAILABLE:
        pytest.skip(POSTGRES_UNAVAILABLE)
    name = f"bm_test_{uuid.uuid4().hex[:12]}"
    _create_postgres_database(name)
    yield _postgres_url(name)
    _drop_postgres_database(name)


@pytest.fixture(scope="session")
def migrated_postgres_template() -> Iterator[str]:
    """A migrated database to clone: CREATE DATABASE … TEMPLATE costs far less than migrating."""
    if POSTGRES_UNAVAILABLE:
        pytest.skip(POSTGRES_UNAVAILABLE)
    name = f"bm_template_{uuid.uuid4().hex[:12]}"
    _create_postgres_database(name)
    upgrade_to_head(base_settings(Path("/nonexistent"), database_url=_postgres_url(name)))
    yield name
    _drop_postgres_database(name)


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "beaconmail.db"
    upgrade_to_head(base_settings(path.parent, database_url=f"sqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'beaconmail.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    return base_settings(data_dir, database_url=database_url)


@pytest.fixture
def db(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Database]:
    """The settings' database, brought to the newest schema by copying a migrated template."""
    url = make_url(settings.database_url)
    if url.drivername.startswith("sqlite"):
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_template"), str(url.database))
    else:
        _create_postgres_database(str(url.database), request.getfixturevalue("migrated_postgres_template"))
    database = Database(settings)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def rspamd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real rspamd (tests/rspamd/), started once per test session and stopped after it."""
    from tests.rspamd.server import Rspamd

    with Rspamd(tmp_path_factory.mktemp("rspamd")) as server:
        yield server.url


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """Let's Encrypt's test CA on loopback (tests/acme_server.py), once per test session."""
    require_programs("pebble", "pebble-challtestsrv", install_hint="apt install pebble")
    with Pebble(tmp_path_factory.mktemp("pebble")) as server:
        yield server


@pytest.fixture(scope="session")
def short_lived_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """Another one, whose certificates live SHORT_LIVED_SECONDS: renewal within a test."""
    require_programs("pebble", "pebble-challtestsrv", install_hint="apt install pebble")
    with Pebble(tmp_path_factory.mktemp("pebble-short"), validity_seconds=SHORT_LIVED_SECONDS) as server:
        yield server
