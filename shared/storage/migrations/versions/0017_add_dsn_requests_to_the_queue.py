"""add what a sender asked for with DSN (RFC 3461) to the outbound queue

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 21:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('outbound_message', sa.Column('dsn_ret', sa.String(length=4), nullable=True))
    op.add_column('outbound_message', sa.Column('dsn_envid', sa.String(length=100), nullable=True))
    op.add_column(
        'outbound_message', sa.Column('delay_notified', sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column('outbound_recipient', sa.Column('dsn_notify', sa.String(length=32), nullable=True))
    op.add_column('outbound_recipient', sa.Column('dsn_orcpt', sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbound_recipient') as batch:
        batch.drop_column('dsn_orcpt')
        batch.drop_column('dsn_notify')
    with op.batch_alter_table('outbound_message') as batch:
        batch.drop_column('delay_notified')
        batch.drop_column('dsn_envid')
        batch.drop_column('dsn_ret')
