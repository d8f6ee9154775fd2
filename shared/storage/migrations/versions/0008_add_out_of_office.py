"""add out of office

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 14:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('out_of_office',
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailbox.id'], name=op.f('fk_out_of_office_mailbox_id_mailbox'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('mailbox_id', name=op.f('pk_out_of_office'))
    )
    op.create_table('auto_reply_sent',
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailbox.id'], name=op.f('fk_auto_reply_sent_mailbox_id_mailbox'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('mailbox_id', 'sender', name=op.f('pk_auto_reply_sent'))
    )
    op.create_index(op.f('ix_auto_reply_sent_sent_at'), 'auto_reply_sent', ['sent_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_auto_reply_sent_sent_at'), table_name='auto_reply_sent')
    op.drop_table('auto_reply_sent')
    op.drop_table('out_of_office')
