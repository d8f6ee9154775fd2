"""add inbound checks switch and sender allow/block rules

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 15:20:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('domain', sa.Column('inbound_checks', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_table('sender_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('listing', sa.Enum('allow', 'block', name='senderlisting', native_enum=False, length=5), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_sender_rule_domain_id_domain'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sender_rule')),
    sa.UniqueConstraint('domain_id', 'sender', name=op.f('uq_sender_rule_domain_id'))
    )
    op.create_index(op.f('ix_sender_rule_domain_id'), 'sender_rule', ['domain_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sender_rule_domain_id'), table_name='sender_rule')
    op.drop_table('sender_rule')
    op.drop_column('domain', 'inbound_checks')
