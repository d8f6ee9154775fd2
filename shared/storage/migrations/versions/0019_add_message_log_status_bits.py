"""add the message log's per-message status bits and the idempotency keys' age index

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 21:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

# shared.mail.message_log.STATUS_BITS as this revision stores them.
STATUS_BITS = {
    'queued': 1, 'delivered': 2, 'relayed': 4, 'deferred': 8, 'bounced': 16, 'failed': 32, 'refused': 64,
}


def upgrade() -> None:
    op.add_column('message_log', sa.Column('status_bits', sa.Integer(), server_default='0', nullable=False))
    # The statuses the recipients have now; earlier ones of a timeline are not needed: a
    # search checks the recipients' current status, the bits only skip messages.
    for status, bit in STATUS_BITS.items():
        op.execute(
            sa.text(
                'UPDATE message_log SET status_bits = status_bits | :bit WHERE id IN '
                '(SELECT log_id FROM message_log_recipient WHERE status = :status)'
            ).bindparams(bit=bit, status=status)
        )
    op.create_index(op.f('ix_idempotent_send_created_at'), 'idempotent_send', ['created_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_idempotent_send_created_at'), table_name='idempotent_send')
    op.drop_column('message_log', 'status_bits')
