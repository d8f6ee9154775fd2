"""create accounts and storage schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 13:27:41.688166
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=320), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=320), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_domain'), ['domain'], unique=False)

    op.create_table('domain',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('max_mailboxes', sa.Integer(), nullable=False),
    sa.Column('max_aliases', sa.Integer(), nullable=False),
    sa.Column('quota_bytes', sa.BigInteger(), nullable=False),
    sa.Column('default_mailbox_quota', sa.BigInteger(), nullable=False),
    sa.Column('used_bytes', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_domain')),
    sa.UniqueConstraint('name', name=op.f('uq_domain_name'))
    )
    op.create_table('alias',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_alias_domain_id_domain'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alias')),
    sa.UniqueConstraint('source', name=op.f('uq_alias_source'))
    )
    with op.batch_alter_table('alias', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alias_domain_id'), ['domain_id'], unique=False)

    op.create_table('alias_domain',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_alias_domain_domain_id_domain'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alias_domain')),
    sa.UniqueConstraint('name', name=op.f('uq_alias_domain_name'))
    )
    with op.batch_alter_table('alias_domain', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alias_domain_domain_id'), ['domain_id'], unique=False)

    op.create_table('group_mailbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('policy', sa.Enum('anyone', 'domain', 'members', name='sendingpolicy', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_group_mailbox_domain_id_domain'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_mailbox')),
    sa.UniqueConstraint('address', name=op.f('uq_group_mailbox_address'))
    )
    with op.batch_alter_table('group_mailbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_mailbox_domain_id'), ['domain_id'], unique=False)

    op.create_table('mailbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('local', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('quota_bytes', sa.BigInteger(), nullable=False),
    sa.Column('used_bytes', sa.BigInteger(), nullable=False),
    sa.Column('message_count', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('smtp_enabled', sa.Boolean(), nullable=False),
    sa.Column('pop3_enabled', sa.Boolean(), nullable=False),
    sa.Column('is_global_admin', sa.Boolean(), nullable=False),
    sa.Column('maildir', sa.String(length=512), nullable=False),
    sa.Column('lease_holder', sa.String(length=255), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_mailbox_domain_id_domain'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailbox')),
    sa.UniqueConstraint('address', name=op.f('uq_mailbox_address'))
    )
    with op.batch_alter_table('mailbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mailbox_domain_id'), ['domain_id'], unique=False)

    op.create_table('alias_destination',
    sa.Column('alias_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['alias_id'], ['alias.id'], name=op.f('fk_alias_destination_alias_id_alias'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('alias_id', 'position', name=op.f('pk_alias_destination'))
    )
    with op.batch_alter_table('alias_destination', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alias_destination_address'), ['address'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=255), nullable=False),
    sa.Column('read_only', sa.Boolean(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['mailbox.id'], name=op.f('fk_api_token_owner_id_mailbox'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_token_prefix'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_owner_id'), ['owner_id'], unique=False)

    op.create_table('domain_manager',
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_domain_manager_domain_id_domain'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailbox.id'], name=op.f('fk_domain_manager_mailbox_id_mailbox'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('mailbox_id', 'domain_id', name=op.f('pk_domain_manager'))
    )
    with op.batch_alter_table('domain_manager', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_domain_manager_domain_id'), ['domain_id'], unique=False)

    op.create_table('group_member',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['group_mailbox.id'], name=op.f('fk_group_member_group_id_group_mailbox'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'address', name=op.f('pk_group_member'))
    )
    with op.batch_alter_table('group_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_member_address'), ['address'], unique=False)

    op.create_table('api_token_domain',
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_api_token_domain_domain_id_domain'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['token_id'], ['api_token.id'], name=op.f('fk_api_token_domain_token_id_api_token'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_id', 'domain_id', name=op.f('pk_api_token_domain'))
    )


def downgrade() -> None:
    op.drop_table('api_token_domain')
    with op.batch_alter_table('group_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_member_address'))

    op.drop_table('group_member')
    with op.batch_alter_table('domain_manager', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_domain_manager_domain_id'))

    op.drop_table('domain_manager')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_owner_id'))

    op.drop_table('api_token')
    with op.batch_alter_table('alias_destination', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alias_destination_address'))

    op.drop_table('alias_destination')
    with op.batch_alter_table('mailbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mailbox_domain_id'))

    op.drop_table('mailbox')
    with op.batch_alter_table('group_mailbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_mailbox_domain_id'))

    op.drop_table('group_mailbox')
    with op.batch_alter_table('alias_domain', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alias_domain_domain_id'))

    op.drop_table('alias_domain')
    with op.batch_alter_table('alias', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alias_domain_id'))

    op.drop_table('alias')
    op.drop_table('domain')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_domain'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_actor'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')
