"""add mailbox imap switch

`mailbox.imap_enabled`, beside smtp_enabled and pop3_enabled: whether Dovecot's SQL passdb lets
the mailbox log in over IMAP. Existing mailboxes keep every service they had: true. Plain
ADD/DROP COLUMN, not a batch: recreating the table on SQLite would drop 0005's search triggers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('mailbox', sa.Column('imap_enabled', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    op.drop_column('mailbox', 'imap_enabled')
