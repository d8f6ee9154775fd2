"""One Dovecot per test module and database: starting it costs about a second, and each test
makes mailboxes of its own, so the tests of a module share it."""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from shared.accounts import create_domain, create_mailbox
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.storage.db import Database
from tests.conftest import (
    POSTGRES_UNAVAILABLE,
    _create_postgres_database,
    _drop_postgres_database,
    _postgres_url,
    base_settings,
)
from tests.integration.pop3.support import FAST, RunningServer
from tests.ports import reserve_ports

from .support import PASSWORD, Dovecot, require_dovecot, start_dovecot


@dataclass
class ImapWorld:
    db: Database
    dovecot: Dovecot
    domain: str

    @property
    def settings(self) -> Settings:
        return self.db.settings

    def new_mailbox(self, password: str = PASSWORD, **options: object) -> tuple[str, int]:
        """A mailbox of its own for one test: (address, id)."""
        address = f"user-{uuid.uuid4().hex[:10]}@{self.domain}"
        view = create_mailbox(self.db, address, password, actor=CONSOLE, **options)  # type: ignore[arg-type]
        return address, view.id


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def imap_world(request: pytest.FixtureRequest) -> Iterator[ImapWorld]:
    with running_world(request, request.param) as world:
        yield world


@contextmanager
def running_world(request: pytest.FixtureRequest, backend: str, **overrides: object) -> Iterator[ImapWorld]:
    """A database of `backend` with the domain imap.example, and Dovecot on it (settings'
    `overrides` on top of the tests' own), all removed afterwards."""
    # Not under pytest's folder (0700, root's): run as root, Dovecot reads mail as `mail`,
    # which must be able to reach the Maildirs.
    data_dir = Path(tempfile.mkdtemp(prefix="bm-imap-"))
    data_dir.chmod(0o755)
    if backend == "sqlite":
        url = f"sqlite:///{data_dir / 'beaconmail.db'}"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_template"), data_dir / "beaconmail.db")
    else:
        if POSTGRES_UNAVAILABLE:
            pytest.skip(POSTGRES_UNAVAILABLE)
        url = _postgres_url(f"bm_imap_{uuid.uuid4().hex[:12]}")
        _create_postgres_database(str(make_url(url).database), request.getfixturevalue("migrated_postgres_template"))
    imap_port, imaps_port = reserve_ports(2)
    settings = base_settings(data_dir, database_url=url, imap_port=imap_port, imaps_port=imaps_port, **overrides)
    require_dovecot(settings)
    db = Database(settings)
    create_domain(db, "imap.example", actor=CONSOLE)
    dovecot = start_dovecot(settings)
    try:
        yield ImapWorld(db, dovecot, "imap.example")
    finally:
        dovecot.stop()
        db.dispose()
        if backend == "postgresql":
            _drop_postgres_database(str(make_url(url).database))
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pop3(imap_world: ImapWorld) -> Iterator[RunningServer]:
    """Our POP3 server on the module's mailboxes, to compare what it serves with IMAP's view."""
    server = RunningServer(dataclasses.replace(imap_world.settings, **FAST))  # type: ignore[arg-type]
    yield server
    server.stop()
