"""INSERT … ON CONFLICT for the database in use: SQLite and PostgreSQL spell it alike, but
SQLAlchemy builds it from each dialect's own `insert`."""
from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(s: Session, model: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `model`'s table that takes `.on_conflict_do_update(...)`."""
    if s.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
