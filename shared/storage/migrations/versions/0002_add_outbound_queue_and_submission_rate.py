"""add outbound queue and submission rate

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 13:35:42.711447
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbound_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('body_path', sa.String(length=512), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_message'))
    )
    op.create_table('submission_window',
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('address', 'window_start', name=op.f('pk_submission_window'))
    )
    op.create_table('outbound_recipient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('status', sa.Enum('held', 'queued', 'sent', 'failed', name='deliverystatus', native_enum=False, length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_reply', sa.Text(), nullable=False),
    sa.Column('claim_token', sa.String(length=64), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['outbound_message.id'], name=op.f('fk_outbound_recipient_message_id_outbound_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_recipient'))
    )
    with op.batch_alter_table('outbound_recipient', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_recipient_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_recipient_message_id'), ['message_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbound_recipient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_recipient_message_id'))
        batch_op.drop_index('ix_outbound_recipient_due')

    op.drop_table('outbound_recipient')
    op.drop_table('submission_window')
    op.drop_table('outbound_message')
