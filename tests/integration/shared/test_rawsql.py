"""The DBAPI-cursor path of the per-message statements: errors, transactions, dead connections."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from shared.accounts import create_domain
from shared.accounts.views import CONSOLE
from shared.storage import db as db_module
from shared.storage import rawsql
from shared.storage.db import Database
from shared.storage.models import Domain
from shared.storage.rawsql import RawStatement

_domain = Domain.__table__
DOMAIN_NAMED = RawStatement(select(_domain.c.id, _domain.c.quota_bytes).where(_domain.c.name == bindparam("name")))
# `quota_bytes` appears twice: positional paramstyles must repeat it in place.
GROW_QUOTA = RawStatement(
    _domain.update()
    .where(_domain.c.name == bindparam("name"), _domain.c.quota_bytes < bindparam("quota"))
    .values(quota_bytes=bindparam("quota"))
)


def quota_of(db: Database, name: str) -> int:
    with rawsql.cursor(db, transaction=False) as cursor:
        return DOMAIN_NAMED.execute(cursor, {"name": name}).fetchone()[1]


def test_statements_bind_named_and_repeated_parameters(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    with rawsql.cursor(db, transaction=True) as cursor:
        assert GROW_QUOTA.execute(cursor, {"name": "example.com", "quota": 500}).rowcount == 1
        assert GROW_QUOTA.execute(cursor, {"name": "example.com", "quota": 400}).rowcount == 0
    assert quota_of(db, "example.com") == 500


def test_a_transaction_is_rolled_back_when_its_block_raises(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    with pytest.raises(LookupError):
        with rawsql.cursor(db, transaction=True) as cursor:
            GROW_QUOTA.execute(cursor, {"name": "example.com", "quota": 500})
            raise LookupError("changed my mind")
    assert quota_of(db, "example.com") == 0


def test_database_errors_leave_as_sqlalchemy_errors_and_the_connection_is_not_reused(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    with pytest.raises(SQLAlchemyError):
        with rawsql.cursor(db, transaction=True) as cursor:
            cursor.dbapi.execute("SELECT no_such_column FROM domain")
    assert db.engine.pool.checkedout() == 0
    assert quota_of(db, "example.com") == 0  # a new connection, not one stuck in a failed transaction


def terminate_other_connections(db: Database) -> None:
    url = db.engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_pooled_connection_that_died_while_idle_is_replaced_before_use(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    assert quota_of(db, "example.com") == 0
    terminate_other_connections(db)  # as a database restart does
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert quota_of(db, "example.com") == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_connection_in_steady_use_is_not_pinged_and_fails_once(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    assert quota_of(db, "example.com") == 0
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    terminate_other_connections(db)
    with pytest.raises(SQLAlchemyError):
        quota_of(db, "example.com")
    assert quota_of(db, "example.com") == 0
