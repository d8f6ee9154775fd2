"""add the message log: accepted and refused messages, each recipient's state and timeline

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 17:52:58.042066
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('message_log',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('message_id', sa.String(length=500), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('sender_domain', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('client_ip', sa.String(length=45), nullable=False),
    sa.Column('username', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_log'))
    )
    with op.batch_alter_table('message_log', schema=None) as batch_op:
        batch_op.create_index('ix_message_log_message_id', ['message_id'], unique=False)
        batch_op.create_index('ix_message_log_sender', ['sender', 'id'], unique=False)
        batch_op.create_index('ix_message_log_sender_domain', ['sender_domain', 'id'], unique=False)

    op.create_table('message_log_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('log_id', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.Column('relay', sa.String(length=300), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['log_id'], ['message_log.id'], name=op.f('fk_message_log_event_log_id_message_log'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_log_event'))
    )
    with op.batch_alter_table('message_log_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_log_event_log_id'), ['log_id'], unique=False)

    op.create_table('message_log_recipient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('log_id', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['log_id'], ['message_log.id'], name=op.f('fk_message_log_recipient_log_id_message_log'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_log_recipient'))
    )
    with op.batch_alter_table('message_log_recipient', schema=None) as batch_op:
        batch_op.create_index('ix_message_log_recipient_address', ['address', 'log_id'], unique=False)
        batch_op.create_index('ix_message_log_recipient_domain', ['domain', 'log_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_log_recipient_log_id'), ['log_id'], unique=False)
        batch_op.create_index('ix_message_log_recipient_status', ['status', 'log_id'], unique=False)

    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('log_id', sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbound_message_log_id'), ['log_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_message_log_id'))
        batch_op.drop_column('log_id')

    with op.batch_alter_table('message_log_recipient', schema=None) as batch_op:
        batch_op.drop_index('ix_message_log_recipient_status')
        batch_op.drop_index(batch_op.f('ix_message_log_recipient_log_id'))
        batch_op.drop_index('ix_message_log_recipient_domain')
        batch_op.drop_index('ix_message_log_recipient_address')

    op.drop_table('message_log_recipient')
    with op.batch_alter_table('message_log_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_log_event_log_id'))

    op.drop_table('message_log_event')
    with op.batch_alter_table('message_log', schema=None) as batch_op:
        batch_op.drop_index('ix_message_log_sender_domain')
        batch_op.drop_index('ix_message_log_sender')
        batch_op.drop_index('ix_message_log_message_id')

    op.drop_table('message_log')
