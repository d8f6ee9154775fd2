"""Fixtures of the POP3 integration tests: servers (replicas) on the test database, and accounts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pytest

from shared.accounts import create_domain, create_mailbox
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import ALICE, ALICE_PW, BOB, BOB_PW, DOMAIN, FAST, RunningServer


class StartServer(Protocol):
    def __call__(self, **overrides: object) -> RunningServer: ...


@pytest.fixture
def start_pop3(db: Database) -> Iterator[StartServer]:
    """Factory: start a POP3 server (a replica) on the test database; all are stopped after."""
    running: list[RunningServer] = []

    def start(**overrides: object) -> RunningServer:
        settings = dataclasses.replace(db.settings, **(FAST | overrides))  # type: ignore[arg-type]
        server = RunningServer(settings)
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


@dataclass(frozen=True)
class Accounts:
    alice_id: int
    bob_id: int


@pytest.fixture
def accounts(db: Database) -> Accounts:
    create_domain(db, DOMAIN, actor=CONSOLE)
    alice = create_mailbox(db, ALICE, ALICE_PW, actor=CONSOLE)
    bob = create_mailbox(db, BOB, BOB_PW, actor=CONSOLE)
    return Accounts(alice.id, bob.id)


