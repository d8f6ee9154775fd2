"""Fixtures for the admin portal: an app on the test database, clients, and a
small world of domains and people with different roles, all made through shared use cases."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from services.admin import create_app
from shared import accounts
from shared.accounts.passwords import hash_password
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.storage.db import Database

from .support import PASSWORD, PortalClient, World


@pytest.fixture
def app(settings: Settings, db: Database) -> Iterator[Flask]:
    application = create_app(settings, database=db)
    application.config["TESTING"] = True
    yield application


@pytest.fixture
def proxied_client(settings: Settings, db: Database) -> PortalClient:
    """A browser reaching the portal through one TLS-terminating proxy (BEACONMAIL_PROXY_HOPS=1)."""
    return PortalClient(create_app(dataclasses.replace(settings, proxy_hops=1), database=db).test_client())


@pytest.fixture
def client_factory(app: Flask) -> Callable[[], PortalClient]:
    """More browsers on the same app (each with its own cookies)."""
    return lambda: PortalClient(app.test_client())


@pytest.fixture
def client(client_factory: Callable[[], PortalClient]) -> PortalClient:
    return client_factory()


@pytest.fixture(scope="session")
def password_hash() -> str:
    """PASSWORD hashed once: mailboxes made from it skip argon2's deliberate cost."""
    return hash_password(PASSWORD)


@pytest.fixture
def world(db: Database, password_hash: str) -> World:
    people = World()
    accounts.create_domain(db, people.alpha, max_mailboxes=100, quota_bytes=10 * 1024**3, actor=CONSOLE)
    accounts.create_domain(db, people.beta, actor=CONSOLE)
    for address in (people.admin, people.manager, people.staff, people.other):
        accounts.create_mailbox(db, address, password_hash, password_is_hash=True, quota_bytes=1024**3, actor=CONSOLE)
    accounts.grant_role(db, people.admin, global_admin=True, actor=CONSOLE)
    accounts.grant_role(db, people.manager, domain=people.alpha, actor=CONSOLE)
    return people


@pytest.fixture
def as_admin(client: PortalClient, world: World) -> PortalClient:
    assert client.login(world.admin).status_code == 302
    return client


@pytest.fixture
def as_manager(client: PortalClient, world: World) -> PortalClient:
    assert client.login(world.manager).status_code == 302
    return client


@pytest.fixture
def as_staff(client: PortalClient, world: World) -> PortalClient:
    assert client.login(world.staff).status_code == 302
    return client
