"""Fixtures of the adversarial tests: accounts on the test database (both SQLite and
PostgreSQL through the root `db` fixture), and a tracker for service processes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from e2e.processes import ProcessTracker
from integration.pop3.support import ALICE, ALICE_PW, BOB, BOB_PW, DOMAIN, RunningServer
from integration.smtp.support import RunningSmtp

from shared.accounts import create_domain, create_mailbox, grant_role
from shared.accounts.passwords import hash_password
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

CAROL, CAROL_PW = f"carol@{DOMAIN}", "carol-pw"
PASSWORDS = {ALICE: ALICE_PW, BOB: BOB_PW, CAROL: CAROL_PW}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def password_hashes() -> dict[str, str]:
    """Hashed once per run: argon2 per mailbox per test would dominate the time."""
    return {address: hash_password(password) for address, password in PASSWORDS.items()}


@dataclass(frozen=True)
class Hosted:
    """hosted.example with alice (a global admin), bob and carol; ids by address."""

    ids: dict[str, int]


@pytest.fixture
def hosted(db: Database, password_hashes: dict[str, str]) -> Hosted:
    create_domain(db, DOMAIN, actor=CONSOLE)
    ids = {
        address: create_mailbox(db, address, password_hashes[address], password_is_hash=True, actor=CONSOLE).id
        for address in PASSWORDS
    }
    grant_role(db, ALICE, global_admin=True, actor=CONSOLE)
    return Hosted(ids)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessTracker]:
    tracker = ProcessTracker(tmp_path / "logs")
    yield tracker
    tracker.stop_all()


class StartSmtp(Protocol):
    def __call__(self, **overrides: object) -> RunningSmtp: ...


class StartPop3(Protocol):
    def __call__(self, **overrides: object) -> RunningServer: ...


@pytest.fixture
def start_smtp(db: Database, hosted: Hosted) -> Iterator[StartSmtp]:
    """Factory: the SMTP listeners in this process on the test database (settings overridden
    as given); all are stopped after the test."""
    running: list[RunningSmtp] = []

    def start(**overrides: object) -> RunningSmtp:
        server = RunningSmtp(Database(dataclasses.replace(db.settings, **overrides)))  # type: ignore[arg-type]
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()
        server.db.dispose()


@pytest.fixture
def start_pop3(db: Database, hosted: Hosted) -> Iterator[StartPop3]:
    """Factory: a POP3 server in this process on the test database; all are stopped after."""
    running: list[RunningServer] = []

    def start(**overrides: object) -> RunningServer:
        server = RunningServer(dataclasses.replace(db.settings, **overrides))  # type: ignore[arg-type]
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()
