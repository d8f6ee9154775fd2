"""add second factors, portal sessions, password-reset links, recovery addresses and the
per-domain two-factor requirement

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 18:10:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def _mailbox_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ['mailbox_id'], ['mailbox.id'], name=op.f(f'fk_{table}_mailbox_id_mailbox'), ondelete='CASCADE'
    )


def upgrade() -> None:
    op.add_column('domain', sa.Column('require_2fa', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('mailbox', sa.Column('recovery_address', sa.String(length=320), nullable=True))
    op.create_table('totp_factor',
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('confirmed', sa.Boolean(), nullable=False),
    sa.Column('last_step', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    _mailbox_fk('totp_factor'),
    sa.PrimaryKeyConstraint('mailbox_id', name=op.f('pk_totp_factor'))
    )
    op.create_table('recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    _mailbox_fk('recovery_code'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_code'))
    )
    op.create_index(op.f('ix_recovery_code_mailbox_id'), 'recovery_code', ['mailbox_id'], unique=False)
    op.create_table('passkey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.LargeBinary(length=1023), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('sign_count', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    _mailbox_fk('passkey'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_passkey')),
    sa.UniqueConstraint('credential_id', name=op.f('uq_passkey_credential_id'))
    )
    op.create_index(op.f('ix_passkey_mailbox_id'), 'passkey', ['mailbox_id'], unique=False)
    op.create_table('portal_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=512), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    _mailbox_fk('portal_session'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_session_token_hash'))
    )
    op.create_index(op.f('ix_portal_session_mailbox_id'), 'portal_session', ['mailbox_id'], unique=False)
    op.create_table('password_reset_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    _mailbox_fk('password_reset_link'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_password_reset_link_token_hash'))
    )
    op.create_index(op.f('ix_password_reset_link_mailbox_id'), 'password_reset_link', ['mailbox_id'], unique=False)


def downgrade() -> None:
    for table in ('password_reset_link', 'portal_session', 'passkey', 'recovery_code'):
        op.drop_index(op.f(f'ix_{table}_mailbox_id'), table_name=table)
        op.drop_table(table)
    op.drop_table('totp_factor')
    op.drop_column('mailbox', 'recovery_address')
    op.drop_column('domain', 'require_2fa')
