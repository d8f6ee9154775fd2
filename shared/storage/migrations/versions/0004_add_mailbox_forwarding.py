"""add mailbox forwarding

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 15:20:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mailbox_forward',
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailbox.id'], name=op.f('fk_mailbox_forward_mailbox_id_mailbox'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('mailbox_id', 'position', name=op.f('pk_mailbox_forward'))
    )
    with op.batch_alter_table('mailbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('keep_copy', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('mailbox', schema=None) as batch_op:
        batch_op.drop_column('keep_copy')
    op.drop_table('mailbox_forward')
