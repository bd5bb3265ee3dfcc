"""sso and totp: users.oidc_tid/oidc_oid, TOTP columns, role_assignments.source, user_sessions.pending_login

Revision ID: 0008
Revises: 0007

Existing role assignments become ``source = 'manual'`` (the server default), so single
sign-on never removes a role that was given before it was turned on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kontroll.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('oidc_tid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('oidc_oid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_dt', kontroll.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_last_timestep', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_users_oidc_tid_oidc_oid'), ['oidc_tid', 'oidc_oid'])
        batch_op.create_check_constraint(
            batch_op.f('ck_users_oidc_link_pair'),
            "(oidc_tid IS NULL AND oidc_oid IS NULL) OR (oidc_tid IS NOT NULL AND oidc_oid IS NOT NULL)",
        )

    with op.batch_alter_table('role_assignments', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('source', sa.String(length=16), server_default='manual', nullable=False)
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_role_assignments_source'), "source IN ('manual', 'sso')"
        )

    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_login', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('pending_login')

    with op.batch_alter_table('role_assignments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_role_assignments_source'), type_='check')
        batch_op.drop_column('source')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_oidc_link_pair'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_users_oidc_tid_oidc_oid'), type_='unique')
        batch_op.drop_column('totp_last_timestep')
        batch_op.drop_column('totp_enabled_dt')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('oidc_oid')
        batch_op.drop_column('oidc_tid')
