"""add the suppression list

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 21:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('suppression',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_suppression_domain_id_domain'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppression')),
    sa.UniqueConstraint('domain_id', 'address', name=op.f('uq_suppression_domain_id'))
    )
    op.create_index(op.f('ix_suppression_expires_at'), 'suppression', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_suppression_expires_at'), table_name='suppression')
    op.drop_table('suppression')
