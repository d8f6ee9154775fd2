"""add mailbox search indexes

Substring search over mailbox addresses and names (shared.accounts.mailbox_search.search_mailboxes) without
scanning the table. PostgreSQL: pg_trgm GIN indexes on address and lower(name), which serve
LIKE '%term%'. SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34 or newer), kept
in step with mailbox by triggers. Neither can be declared in the models for both databases;
shared.storage.models.mailbox names them so schema comparisons skip them.

Where they cannot be made, the migration still succeeds and search scans the table (correct,
only slower at scale); a warning says so. That is PostgreSQL where the role may not create the
extension (pg_trgm is a trusted extension: since PostgreSQL 13, any role with CREATE on the
database may), and SQLite built without FTS5 or older than 3.34. Running this migration again
(downgrade one step, upgrade) once the extension or a newer SQLite is there makes them.

The downgrade drops the indexes, the table and the triggers, and leaves the pg_trgm extension
installed: other objects may use it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:00:00.000000
"""
from __future__ import annotations

import logging

from alembic import op
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

POSTGRESQL_INDEXES = {
    'ix_mailbox_address_trgm': 'address gin_trgm_ops',
    'ix_mailbox_name_trgm': 'lower(name) gin_trgm_ops',
}
SQLITE_TRIGGERS = {
    'mailbox_search_insert': 'AFTER INSERT ON mailbox BEGIN '
    'INSERT INTO mailbox_search (rowid, address, lower_name) VALUES (new.id, new.address, lower(new.name)); END',
    'mailbox_search_update': 'AFTER UPDATE OF address, name ON mailbox BEGIN '
    'UPDATE mailbox_search SET address = new.address, lower_name = lower(new.name) WHERE rowid = old.id; END',
    'mailbox_search_delete': 'AFTER DELETE ON mailbox BEGIN '
    'DELETE FROM mailbox_search WHERE rowid = old.id; END',
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        _upgrade_postgresql(bind)
    elif bind.dialect.name == 'sqlite':
        _upgrade_sqlite(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        for name in POSTGRESQL_INDEXES:
            op.execute(f'DROP INDEX IF EXISTS {name}')
    elif bind.dialect.name == 'sqlite':
        for name in SQLITE_TRIGGERS:
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
        op.execute('DROP TABLE IF EXISTS mailbox_search')


def _upgrade_postgresql(bind: Connection) -> None:
    try:
        with bind.begin_nested():  # a refusal must not abort the migration's transaction
            bind.exec_driver_sql('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    except DBAPIError as exc:
        log.warning('pg_trgm is not available (%s): mailbox search will scan the table', exc.orig)
        return
    for name, key in POSTGRESQL_INDEXES.items():
        op.execute(f'CREATE INDEX {name} ON mailbox USING gin ({key})')


def _upgrade_sqlite(bind: Connection) -> None:
    # Its own copy of the values (not external content): a trigger deletes by rowid alone, so the
    # index cannot drift from values it was not given. Case-sensitive over SQLite's lower(name)
    # (which folds ASCII only), so it matches exactly what LIKE over lower(name) matches: search
    # uses either, whichever is faster, and both must give the same rows.
    try:
        bind.exec_driver_sql(
            "CREATE VIRTUAL TABLE mailbox_search USING fts5(address, lower_name, tokenize = 'trigram case_sensitive 1')"
        )
    except DBAPIError as exc:
        log.warning('SQLite has no FTS5 trigram tokenizer (%s; 3.34 or newer has it): '
                    'mailbox search will scan the table', exc.orig)
        return
    op.execute('INSERT INTO mailbox_search (rowid, address, lower_name) SELECT id, address, lower(name) FROM mailbox')
    for name, body in SQLITE_TRIGGERS.items():
        op.execute(f'CREATE TRIGGER {name} {body}')
