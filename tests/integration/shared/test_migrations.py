"""Alembic migrations on empty SQLite and PostgreSQL databases: up, down, up again, no drift,
and safe when several processes and threads migrate at the same moment."""
from __future__ import annotations

import multiprocessing
import threading
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import POSTGRES_ADMIN_URL, base_settings
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from shared.accounts import create_domain, create_mailbox
from shared.accounts.mailbox_search import search_mailboxes
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.storage.db import Database, make_engine
from shared.storage.migrations import alembic_config, upgrade_to_head
from shared.storage.models import Base
from shared.storage.models.mailbox import is_search_index
from shared.storage.schema_version import VERSIONS_DIR, SchemaNotReady, ensure_at_head, head_revision

SCRIPTS = ScriptDirectory.from_config(alembic_config())
HEAD = SCRIPTS.get_current_head()
MODEL_TABLES = set(Base.metadata.tables)
# The migrations after 0011, newest first, with the tables each adds.
LATER_MIGRATIONS: list[tuple[str, set[str]]] = [
    ("0019", set()),
    ("0018", {"suppression"}),
    ("0017", set()),
    ("0016", set()),
    ("0015", {"idempotent_send", "webhook", "webhook_delivery"}),
    ("0014", {"message_log", "message_log_recipient", "message_log_event"}),
    ("0013", {"totp_factor", "recovery_code", "passkey", "portal_session", "password_reset_link"}),
    ("0012", {"app_password", "login_failure", "mailbox_login"}),
]
DIRECTORY_TRIGGERS = set(SCRIPTS.get_revision("0006").module.TRIGGERS)  # PostgreSQL only


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings on a database with no tables at all."""
    (tmp_path / "data").mkdir()
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'beaconmail.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    return base_settings(tmp_path / "data", database_url=url)


def tables(settings: Settings) -> set[str]:
    """The tables of the models: the search index's (migration 0005) are left out."""
    engine = make_engine(settings.database_url)
    try:
        return {name for name in inspect(engine).get_table_names() if not is_search_index(name)} - {"alembic_version"}
    finally:
        engine.dispose()


def schema_drift(settings: Settings) -> list[Any]:
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            opts = {"compare_type": True, "include_name": lambda name, *_: not is_search_index(name)}
            context = MigrationContext.configure(connection, opts=opts)
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def downgrade(settings: Settings, target: str) -> str | None:
    """Downgrade to `target`; the revision the database is at afterwards."""
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            command.downgrade(alembic_config(connection), target)
            connection.commit()
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def test_file_names_give_alembic_revisions_and_head() -> None:
    """ensure_at_head reads the head off the file names instead of importing Alembic."""
    for path in VERSIONS_DIR.glob("*.py"):
        revision = SCRIPTS.get_revision(path.name.split("_", 1)[0])
        assert revision is not None and Path(revision.path).name == path.name
    assert head_revision() == HEAD


def check_head(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        ensure_at_head(engine)
    finally:
        engine.dispose()


def expected_directory_triggers(settings: Settings) -> set[str]:
    """Migration 0006's NOTIFY triggers: PostgreSQL only."""
    return set() if settings.database_url.startswith("sqlite") else DIRECTORY_TRIGGERS


def directory_triggers(settings: Settings) -> set[str]:
    """The NOTIFY triggers of migration 0006 that exist."""
    names = schema_names(
        settings,
        sqlite="SELECT name FROM sqlite_master WHERE type = 'trigger'",
        postgresql="SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
    )
    return names & DIRECTORY_TRIGGERS


def search_objects(settings: Settings) -> set[str]:
    """The search indexes of migration 0005 that exist (tables, triggers, indexes)."""
    names = schema_names(
        settings,
        sqlite="SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')",
        postgresql="SELECT indexname FROM pg_indexes WHERE tablename = 'mailbox'",
    )
    return {name for name in names if is_search_index(name)}


def schema_names(settings: Settings, *, sqlite: str, postgresql: str) -> set[str]:
    """The names the query for the settings' database returns."""
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(text(sqlite if engine.dialect.name == "sqlite" else postgresql)))
    finally:
        engine.dispose()


def columns_of(settings: Settings, table: str) -> set[str]:
    engine = make_engine(settings.database_url)
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_without_drift(empty_settings: Settings) -> None:
    with pytest.raises(SchemaNotReady):
        check_head(empty_settings)
    upgrade_to_head(empty_settings)
    assert tables(empty_settings) == MODEL_TABLES
    assert search_objects(empty_settings)
    check_head(empty_settings)
    assert schema_drift(empty_settings) == []
    upgrade_to_head(empty_settings)  # twice is harmless
    assert directory_triggers(empty_settings) == expected_directory_triggers(empty_settings)
    at_head = search_objects(empty_settings)
    assert LATER_MIGRATIONS[0][0] == HEAD
    newer: set[str] = set()
    for revision, added in LATER_MIGRATIONS:  # newest first, one step down each
        assert downgrade(empty_settings, "-1") == SCRIPTS.get_revision(revision).down_revision
        newer |= added
        assert tables(empty_settings) == MODEL_TABLES - newer
        if revision == "0019":
            assert "status_bits" not in columns_of(empty_settings, "message_log")
        if revision == "0017":
            assert {"dsn_ret", "dsn_envid", "delay_notified"} & columns_of(empty_settings, "outbound_message") == set()
            assert {"dsn_notify", "dsn_orcpt"} & columns_of(empty_settings, "outbound_recipient") == set()
        if revision == "0016":  # a column, dropped without copying the table (the domain triggers stay)
            assert "forbid_external_forwarding" not in columns_of(empty_settings, "domain")
            assert directory_triggers(empty_settings) == expected_directory_triggers(empty_settings)
        if revision == "0014":
            assert "log_id" not in columns_of(empty_settings, "outbound_message")
    assert {"require_2fa"} & columns_of(empty_settings, "domain") == set()
    assert "sends_mail" not in columns_of(empty_settings, "api_token")
    assert downgrade(empty_settings, "-1") == "0010"
    assert {"token_id", "token_name"} & columns_of(empty_settings, "audit_log") == set()
    assert downgrade(empty_settings, "-1") == "0009"
    assert tables(empty_settings) == MODEL_TABLES - newer - {"sender_rule"}
    assert downgrade(empty_settings, "-1") == "0008"
    assert tables(empty_settings) == MODEL_TABLES - newer - {"sender_rule", "imap_usage"}
    assert downgrade(empty_settings, "-1") == "0007"
    assert tables(empty_settings) == MODEL_TABLES - newer - {"sender_rule", "imap_usage", "out_of_office", "auto_reply_sent"}
    assert downgrade(empty_settings, "-1") == "0006"
    assert "imap_enabled" not in columns_of(empty_settings, "mailbox")
    assert search_objects(empty_settings) == at_head  # 0007 left the SQLite search triggers alone
    assert downgrade(empty_settings, "0005") == "0005"
    assert directory_triggers(empty_settings) == set()
    assert downgrade(empty_settings, "0004") == "0004"
    assert search_objects(empty_settings) == set()
    with pytest.raises(SchemaNotReady):
        check_head(empty_settings)
    upgrade_to_head(empty_settings)
    assert search_objects(empty_settings)
    assert directory_triggers(empty_settings) == expected_directory_triggers(empty_settings)
    assert schema_drift(empty_settings) == []
    assert downgrade(empty_settings, "base") is None
    assert tables(empty_settings) == set()
    with pytest.raises(SchemaNotReady):
        check_head(empty_settings)
    upgrade_to_head(empty_settings)
    assert tables(empty_settings) == MODEL_TABLES
    assert schema_drift(empty_settings) == []


def _migrate(settings: Settings, start: Any, failures: Any) -> None:
    """One racer: wait for the others, migrate, report any failure as text."""
    try:
        start.wait(timeout=30)
        upgrade_to_head(settings)
    except BaseException:  # noqa: BLE001 - reported to the test, which fails on it
        failures.put(traceback.format_exc())


def racing(settings: Settings, processes: int, threads: int) -> Iterator[str]:
    context = multiprocessing.get_context("fork")
    start, failures = context.Barrier(processes + threads), context.Queue()
    workers: list[Any] = [context.Process(target=_migrate, args=(settings, start, failures)) for _ in range(processes)]
    workers += [threading.Thread(target=_migrate, args=(settings, start, failures)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert all(getattr(worker, "exitcode", 0) == 0 for worker in workers)
    while not failures.empty():
        yield failures.get()


def test_concurrent_first_migrations_are_safe(empty_settings: Settings) -> None:
    assert list(racing(empty_settings, processes=3, threads=3)) == []
    assert tables(empty_settings) == MODEL_TABLES
    check_head(empty_settings)
    engine = make_engine(empty_settings.database_url)
    try:
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_heads() == (HEAD,)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_without_pg_trgm_the_migration_succeeds_and_search_scans(postgres_url: str, tmp_path: Path) -> None:
    """A role that may not create the extension (no CREATE on the database) still migrates."""
    role, url = f"bm_plain_{uuid.uuid4().hex[:12]}", make_url(postgres_url)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(False), autocommit=True) as owner:
            owner.execute(f'REVOKE CREATE ON DATABASE "{url.database}" FROM PUBLIC')
            owner.execute(f'GRANT CREATE ON SCHEMA public TO "{role}"')
        settings = base_settings(tmp_path, database_url=url.set(username=role).render_as_string(False))
        upgrade_to_head(settings)
        check_head(settings)
        assert search_objects(settings) == set()
        db = Database(settings)
        try:
            create_domain(db, "example.com", actor=CONSOLE)
            create_mailbox(db, "carol@example.com", "pw", name="Carol King", actor=CONSOLE)
            assert [m.address for m in search_mailboxes(db, search="KING", actor=CONSOLE).mailboxes] == ["carol@example.com"]
        finally:
            db.dispose()
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')  # it holds the role's tables
            admin.execute(f'DROP ROLE "{role}"')


def test_0019_sets_the_status_bits_of_messages_logged_before_it(empty_settings: Settings) -> None:
    upgrade_to_head(empty_settings)
    downgrade(empty_settings, "0018")
    engine = make_engine(empty_settings.database_url)
    try:
        with engine.begin() as connection:
            for log_id in ("00000000000100000001", "00000000000100000002"):
                connection.execute(
                    text("INSERT INTO message_log (id, message_id, sender, sender_domain, size, via, client_ip, username,"
                         " created_at) VALUES (:id, '', '', '', 1, 'mx', '', '', CURRENT_TIMESTAMP)"),
                    {"id": log_id},
                )
            connection.execute(
                text("INSERT INTO message_log_recipient (log_id, address, domain, status, attempts, reply, updated_at)"
                     " VALUES (:id, :address, 'x.example', :status, 0, '', CURRENT_TIMESTAMP)"),
                [{"id": "00000000000100000001", "address": "a@x.example", "status": "failed"},
                 {"id": "00000000000100000001", "address": "b@x.example", "status": "relayed"},
                 {"id": "00000000000100000002", "address": "c@x.example", "status": "delivered"}],
            )
        upgrade_to_head(empty_settings)
        with engine.connect() as connection:
            bits = dict(connection.execute(text("SELECT id, status_bits FROM message_log")).all())
    finally:
        engine.dispose()
    assert bits == {"00000000000100000001": 32 | 4, "00000000000100000002": 2}
