"""add imap usage

`imap_usage`: each mailbox's totals over all its folders as Dovecot counts them, written by
its quota_clone plugin through the SQL dict after IMAP changes a mailbox. Triggers turn each
write into our counters in the same statement: the mailbox's used bytes and message count
become the totals and its domain's used bytes move by the difference, so SMTP's room checks
count what IMAP stored and the listings show what is on disk in every folder.

Dovecot 2.3's dict writes with `INSERT INTO imap_usage (used_bytes,messages,address) VALUES
(?,?,?) ON CONFLICT (address) DO UPDATE SET used_bytes=?,messages=?` on both databases: an
INSERT trigger for the first write, an UPDATE trigger for every later one. Only a change of
the totals fires them (a renamed address cascades here and must not).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

FUNCTION = 'beacon_imap_usage_changed'
TRIGGERS = {
    'imap_usage_inserted': 'INSERT ON imap_usage',
    'imap_usage_updated': 'UPDATE OF used_bytes, messages ON imap_usage',
}
# SQLite: one writer at a time, so reading the mailbox's bytes before updating them is safe.
SQLITE_BODY = (
    "UPDATE domain SET used_bytes = used_bytes + NEW.used_bytes"
    " - (SELECT used_bytes FROM mailbox WHERE address = NEW.address)"
    " WHERE id = (SELECT domain_id FROM mailbox WHERE address = NEW.address);"
    " UPDATE mailbox SET used_bytes = NEW.used_bytes, message_count = NEW.messages WHERE address = NEW.address;"
)
# PostgreSQL: the mailbox row is locked before the domain's, the order quota.reserve locks them
# in, so a delivery and an IMAP change to one mailbox cannot deadlock.
POSTGRESQL_FUNCTION = f"""CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bytes_before bigint;
    owner_domain integer;
BEGIN
    SELECT used_bytes, domain_id INTO bytes_before, owner_domain FROM mailbox WHERE address = NEW.address FOR UPDATE;
    IF FOUND THEN
        UPDATE mailbox SET used_bytes = NEW.used_bytes, message_count = NEW.messages WHERE address = NEW.address;
        UPDATE domain SET used_bytes = used_bytes + NEW.used_bytes - bytes_before WHERE id = owner_domain;
    END IF;
    RETURN NULL;
END $$"""


def upgrade() -> None:
    op.create_table('imap_usage',
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('used_bytes', sa.BigInteger(), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['address'], ['mailbox.address'], name=op.f('fk_imap_usage_address_mailbox'), onupdate='CASCADE', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_imap_usage'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(POSTGRESQL_FUNCTION)
        for name, events in TRIGGERS.items():
            op.execute(f'CREATE TRIGGER {name} AFTER {events} FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()')
    else:
        for name, events in TRIGGERS.items():
            op.execute(f'CREATE TRIGGER {name} AFTER {events} FOR EACH ROW BEGIN {SQLITE_BODY} END')


def downgrade() -> None:
    op.drop_table('imap_usage')  # its triggers go with it
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'DROP FUNCTION IF EXISTS {FUNCTION}()')
