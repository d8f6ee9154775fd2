"""Fixtures of the SMTP integration tests: accounts on the test database and the running service.

Tests that change server-wide state (throttling, limits, routing of postmaster) get a fresh
database (the root `db` fixture) and their own server. All others share one server and
database per run (`shared_smtp`), on SQLite and on PostgreSQL, which keeps the suite fast:
they create uniquely named accounts when they need any, and compare mailbox contents
relative to what was there before.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import psycopg
import pytest

from shared.accounts import (
    add_alias_domain,
    create_domain,
    create_mailbox,
    get_mailbox,
    grant_role,
    update_mailbox,
)
from shared.accounts.passwords import hash_password
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.mail.delivery import deliver
from shared.storage.db import Database
from shared.storage.migrations import upgrade_to_head

from .support import (
    ALIAS_DOMAIN,
    ALICE,
    ALICE_PW,
    BOB,
    BOB_PW,
    CAROL,
    DAVE,
    DOMAIN,
    SECOND,
    RunningSmtp,
    StockSmtp,
    start_smarthost,
)

# Generous throttling so tests that fail logins on purpose do not lock each other out.
FAST = dict(login_max_failures=1000, hostname="mx.hosted.example")
# Small limits for the shared server, so SIZE and recipient limits are cheap to reach.
SHARED_LIMITS = dict(max_message_size=100_000, max_recipients=100)


@pytest.fixture(scope="session")
def password_hashes() -> dict[str, str]:
    """Hashed once per run: argon2 per mailbox per test would dominate the suite's time."""
    return {password: hash_password(password) for password in (ALICE_PW, BOB_PW, "carol-pw", "dave-pw")}


def create_accounts(db: Database, password_hashes: dict[str, str]) -> None:
    """hosted.example (alice manages it, bob is a global admin, carol is disabled, dave's quota
    is full), its alias domain alias.example, and second.example with no mailboxes."""
    create_domain(db, DOMAIN, actor=CONSOLE)
    create_domain(db, SECOND, actor=CONSOLE)
    add_alias_domain(db, ALIAS_DOMAIN, DOMAIN, actor=CONSOLE)
    for address, password in ((ALICE, ALICE_PW), (BOB, BOB_PW), (CAROL, "carol-pw"), (DAVE, "dave-pw")):
        create_mailbox(db, address, password_hashes[password], password_is_hash=True, actor=CONSOLE)
    update_mailbox(db, CAROL, active=False, actor=CONSOLE)
    grant_role(db, ALICE, domain=DOMAIN, actor=CONSOLE)
    grant_role(db, BOB, global_admin=True, actor=CONSOLE)
    dave = get_mailbox(db, DAVE, actor=CONSOLE)
    deliver(db, b"Subject: filler\r\n\r\nfills the quota\r\n", [dave.id], return_path="")
    update_mailbox(db, DAVE, quota_bytes=get_mailbox(db, DAVE, actor=CONSOLE).used_bytes, actor=CONSOLE)


@pytest.fixture
def accounts(db: Database, password_hashes: dict[str, str]) -> None:
    create_accounts(db, password_hashes)


class StartSmtp(Protocol):
    def __call__(self, **overrides: object) -> RunningSmtp: ...


@pytest.fixture
def start_smtp(db: Database, accounts: None) -> Iterator[StartSmtp]:
    """Factory: start the SMTP listeners (a replica) on the test database; all are stopped after."""
    running: list[RunningSmtp] = []

    def start(**overrides: object) -> RunningSmtp:
        settings = dataclasses.replace(db.settings, **(FAST | overrides))  # type: ignore[arg-type]
        server = RunningSmtp(Database(settings))
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()
        server.db.dispose()


@pytest.fixture
def smtp(start_smtp: StartSmtp) -> RunningSmtp:
    return start_smtp()


@pytest.fixture
def smarthost(settings: Settings) -> Iterator[StockSmtp]:
    host = start_smarthost(settings)
    yield host
    host.stop()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def session_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database for the shared server (the root fixtures are per test)."""
    from conftest import POSTGRES_ADMIN_URL, POSTGRES_UNAVAILABLE

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('smtp-db') / 'beaconmail.db'}"
        return
    if POSTGRES_UNAVAILABLE:
        pytest.skip(POSTGRES_UNAVAILABLE)
    name = f"bm_smtp_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def shared_smtp(
    session_database_url: str, tmp_path_factory: pytest.TempPathFactory, password_hashes: dict[str, str]
) -> Iterator[RunningSmtp]:
    """One server per run and database, for tests that leave server-wide state alone."""
    from conftest import base_settings

    data_dir: Path = tmp_path_factory.mktemp("smtp-data")
    settings = base_settings(data_dir, database_url=session_database_url, **(FAST | SHARED_LIMITS))
    upgrade_to_head(settings)
    db = Database(settings)
    create_accounts(db, password_hashes)
    server = RunningSmtp(db)
    yield server
    server.stop()
    db.dispose()
