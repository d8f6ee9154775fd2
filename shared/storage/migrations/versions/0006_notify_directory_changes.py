"""notify directory changes

PostgreSQL only: statement triggers send a NOTIFY on `beacon_directory` (shared.storage.directory_cache)
when a change commits to what a recipient lookup depends on: a mailbox's address, state,
quota, domain or forwarding, a domain's name or state. Deliveries (used bytes, message
counts), logins and leases change other columns and notify nothing. PostgreSQL folds the
notifications of one transaction into one. SQLite has no NOTIFY and needs none: nothing is
cached there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 06:00:00.000000
"""
from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

FUNCTION = 'beacon_directory_changed'
TRIGGERS = {
    'mailbox_directory_changed': 'INSERT OR DELETE OR TRUNCATE OR UPDATE OF address, active, quota_bytes, domain_id, keep_copy ON mailbox',
    'mailbox_forward_directory_changed': 'INSERT OR DELETE OR TRUNCATE OR UPDATE ON mailbox_forward',
    'domain_directory_changed': 'DELETE OR TRUNCATE OR UPDATE OF name, active ON domain',
}


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(
        f"CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('beacon_directory', ''); RETURN NULL; END $$"
    )
    for name, events in TRIGGERS.items():
        op.execute(f'CREATE TRIGGER {name} AFTER {events} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name, events in TRIGGERS.items():
        table = events.rsplit(' ON ', 1)[1]
        op.execute(f'DROP TRIGGER IF EXISTS {name} ON {table}')
    op.execute(f'DROP FUNCTION IF EXISTS {FUNCTION}()')
