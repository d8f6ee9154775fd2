"""add the API token an audit entry was made with

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 16:10:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('audit_log', sa.Column('token_id', sa.Integer(), nullable=True))
    op.add_column('audit_log', sa.Column('token_name', sa.String(length=120), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('audit_log') as batch:
        batch.drop_column('token_name')
        batch.drop_column('token_id')
