"""add app passwords, the login lockout's counters and last logins

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:10:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_password',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('smtp_enabled', sa.Boolean(), nullable=False),
    sa.Column('pop3_enabled', sa.Boolean(), nullable=False),
    sa.Column('imap_enabled', sa.Boolean(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_from', sa.String(length=45), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailbox.id'], name=op.f('fk_app_password_mailbox_id_mailbox'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_password')),
    sa.UniqueConstraint('prefix', name=op.f('uq_app_password_prefix'))
    )
    op.create_index(op.f('ix_app_password_mailbox_id'), 'app_password', ['mailbox_id'], unique=False)
    op.create_table('login_failure',
    sa.Column('account', sa.String(length=320), nullable=False),
    sa.Column('client_ip', sa.String(length=45), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('account', 'client_ip', name=op.f('pk_login_failure'))
    )
    op.create_index(op.f('ix_login_failure_domain'), 'login_failure', ['domain'], unique=False)
    op.create_index(op.f('ix_login_failure_window_start'), 'login_failure', ['window_start'], unique=False)
    op.create_index(op.f('ix_login_failure_locked_until'), 'login_failure', ['locked_until'], unique=False)
    op.create_table('mailbox_login',
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('protocol', sa.String(length=8), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('client_ip', sa.String(length=45), nullable=False),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailbox.id'], name=op.f('fk_mailbox_login_mailbox_id_mailbox'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('mailbox_id', 'protocol', name=op.f('pk_mailbox_login'))
    )


def downgrade() -> None:
    op.drop_table('mailbox_login')
    op.drop_index(op.f('ix_login_failure_locked_until'), table_name='login_failure')
    op.drop_index(op.f('ix_login_failure_window_start'), table_name='login_failure')
    op.drop_index(op.f('ix_login_failure_domain'), table_name='login_failure')
    op.drop_table('login_failure')
    op.drop_index(op.f('ix_app_password_mailbox_id'), table_name='app_password')
    op.drop_table('app_password')
