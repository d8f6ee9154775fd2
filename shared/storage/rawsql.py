"""Core statements compiled once per dialect and run on a pooled connection's DBAPI cursor.

For the few statements SMTP runs for every recipient and message (resolution, quota
reservation) only: there SQLAlchemy's execution machinery (contexts, events, result
objects) cost several times the CPU of the database work itself. Everything else uses
sessions. DBAPI errors leave as SQLAlchemy's DBAPIError subclasses, so callers catch
SQLAlchemyError as everywhere else, and the connection that raised is never reused.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, cast

from sqlalchemy import DateTime, Integer, Table, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import UserDefinedType

from shared.storage.db import Database


class RawStatement:
    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def sql(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        """The SQL text, the parameter names in order (positional paramstyles only) and the
        values of the literals the statement carries (SQLAlchemy binds `quota == 0` too)."""
        if dialect.name not in self._compiled:
            compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect))
            if compiled._bind_processors:  # type conversion would be skipped here
                raise TypeError(f"needs bind processors, run it through SQLAlchemy: {compiled.string}")
            names = tuple(compiled.positiontup or ()) if compiled.positional else None
            literals = {name: value for name, value in compiled.params.items() if value is not None}
            self._compiled[dialect.name] = (compiled.string, names, literals)
        return self._compiled[dialect.name]

    def execute(self, cursor: RawCursor, params: Mapping[str, Any]) -> Any:
        """Run on `cursor`; returns its DBAPI cursor (fetchone, rowcount)."""
        sql, names, literals = self.sql(cursor.dialect)
        values = {**literals, **params}
        cursor.dbapi.execute(sql, values if names is None else tuple(values[name] for name in names))
        return cursor.dbapi


    def execute_many(self, cursor: RawCursor, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row of parameters, in one call to the driver (psycopg pipelines them)."""
        sql, names, literals = self.sql(cursor.dialect)
        values = [{**literals, **row} for row in rows]
        cursor.dbapi.executemany(sql, values if names is None else [tuple(v[name] for name in names) for v in values])


class _AsStored(UserDefinedType[Any]):
    """A parameter passed to the driver as it is: no bind processor, no cast."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "TEXT"


def stored_param(name: str) -> BindParameter[Any]:
    """A parameter the driver gets as it is: a time passed as `stamp` makes it."""
    return bindparam(name, type_=_AsStored())


def untyped_values(table: Table, suffix: str = "") -> dict[str, Any]:
    """Every column but a generated key, as untyped parameters named `<column><suffix>`, for an
    INSERT run here: raw statements take no bind processors, so times go as `stamp` makes them."""
    generated = [c for c in table.primary_key.columns if isinstance(c.type, Integer)]
    return {
        c.name: stored_param(c.name + suffix) if isinstance(c.type, DateTime) else bindparam(c.name + suffix)
        for c in table.c
        if c not in generated
    }


def stamp(dialect: Dialect, moment: datetime) -> Any:
    """What SQLAlchemy itself would store: SQLite keeps naive UTC text."""
    if dialect.name == "sqlite":
        return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
    return moment


@dataclass(frozen=True)
class RawCursor:
    """A DBAPI cursor and the dialect its statements are compiled for."""

    dbapi: Any
    dialect: Dialect


def of_session(s: Session) -> RawCursor:
    """A cursor in the transaction of session `s`, for a statement shared with the raw paths."""
    connection = s.connection()
    return RawCursor(connection.connection.cursor(), connection.dialect)


@contextmanager
def cursor(db: Database, *, transaction: bool) -> Iterator[RawCursor]:
    """A DBAPI cursor of a pooled connection. `transaction`: every statement in one
    transaction committed at the end (on SQLite BEGIN IMMEDIATE: a writer takes the lock
    up front, see shared.storage.db); otherwise each statement commits on its own, which spares
    PostgreSQL the BEGIN and ROLLBACK round trips around a single read."""
    if not (transaction and db.is_sqlite):
        with _cursor(db, transaction) as raw_cursor:
            yield raw_cursor
        return
    # Writers queue on a lock that wakes the next one the moment it is free; in SQLite's busy
    # handler they would sleep between tries (shared.storage.db.SqliteWriterLock).
    with db.sqlite_writer:
        with _cursor(db, transaction) as raw_cursor:
            yield raw_cursor


@contextmanager
def _cursor(db: Database, transaction: bool) -> Iterator[RawCursor]:
    dialect = db.engine.dialect
    try:
        pooled = db.engine.raw_connection()
    except dialect.loaded_dbapi.Error as error:  # the pool does not wrap what connecting raised
        raise _wrapped(error, dialect, disconnected=True) from error
    autocommit = not transaction and not db.is_sqlite
    try:
        if autocommit:
            assert pooled.driver_connection is not None  # a connection just checked out of the pool
            pooled.driver_connection.autocommit = True
        dbapi_cursor = pooled.cursor()
        if transaction and db.is_sqlite:
            dbapi_cursor.execute("BEGIN IMMEDIATE")
        yield RawCursor(dbapi_cursor, dialect)
        if transaction:
            pooled.commit()
    except dialect.loaded_dbapi.Error as error:
        disconnected = dialect.is_disconnect(error, pooled.dbapi_connection, None)
        pooled.invalidate(error)  # its state is unknown: closed, never handed out again
        raise _wrapped(error, dialect, disconnected) from error
    except BaseException:
        _roll_back(pooled, dialect)
        raise
    finally:
        if autocommit and pooled.driver_connection is not None:
            pooled.driver_connection.autocommit = False
        pooled.close()


def _wrapped(error: Exception, dialect: Dialect, disconnected: bool) -> StatementError:
    return DBAPIError.instance(
        None, None, error, dialect.loaded_dbapi.Error, connection_invalidated=disconnected, dialect=dialect
    )


def _roll_back(pooled: Any, dialect: Dialect) -> None:
    try:
        pooled.rollback()
    except dialect.loaded_dbapi.Error as error:
        pooled.invalidate(error)
