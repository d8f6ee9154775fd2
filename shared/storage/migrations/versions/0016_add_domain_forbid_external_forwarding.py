"""add the per-domain switch forbidding mailboxes' forwarding to outside domains

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 18:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'domain', sa.Column('forbid_external_forwarding', sa.Boolean(), server_default=sa.false(), nullable=False)
    )


def downgrade() -> None:
    # Not batch mode: SQLite's table copy would break the imap_usage triggers that name `domain`.
    op.drop_column('domain', 'forbid_external_forwarding')
