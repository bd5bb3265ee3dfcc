"""privacy: login_attempts, user_sessions.kept_form, redactions; the immutability triggers let
through an UPDATE of a row with a pending redaction (and nothing else)

Revision ID: 0009
Revises: 0008

The snapshot tables and the audit log keep refusing UPDATE and DELETE, except that a row for
which a redaction (``kontroll privacy redact``) is pending may be updated once, in the
redaction's own transaction. DELETE and TRUNCATE stay refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kontroll.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

GUARDED = ("case_list_snapshots", "snapshot_cases", "audit_entries")


def upgrade() -> None:
    op.create_table('login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start_dt', kontroll.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until_dt', kontroll.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts')),
    sa.UniqueConstraint('kind', 'key_hash', name=op.f('uq_login_attempts_kind_key_hash'))
    )
    op.create_table('redactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('row_id', sa.Integer(), nullable=False),
    sa.Column('column_name', sa.String(length=64), nullable=False),
    sa.Column('marker', sa.String(length=64), nullable=False),
    sa.Column('redacted_dt', kontroll.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('redacted_by_id', sa.Integer(), nullable=False),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=True),
    sa.Column('verified_before', sa.Boolean(), nullable=True),
    sa.Column('snapshot_sha256_after', sa.String(length=64), nullable=True),
    sa.Column('population_sha256_after', sa.String(length=64), nullable=True),
    sa.Column('text_sha256_after', sa.String(length=64), nullable=True),
    sa.Column('draws_verified_before', sa.Text(), nullable=True),
    sa.Column('seal', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['redacted_by_id'], ['users.id'], name=op.f('fk_redactions_redacted_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redactions'))
    )
    with op.batch_alter_table('redactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redactions_table_name'), ['table_name', 'row_id'], unique=False)
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kept_form', sa.Text(), nullable=True))
    _replace_triggers(redaction_aware=True)


def downgrade() -> None:
    _replace_triggers(redaction_aware=False)
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('kept_form')
    with op.batch_alter_table('redactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redactions_table_name'))
    op.drop_table('redactions')
    op.drop_table('login_attempts')


def _replace_triggers(*, redaction_aware: bool) -> None:
    dialect = op.get_bind().dialect.name
    names = {"case_list_snapshots": "case_list_snapshots_immutable", "snapshot_cases": "snapshot_cases_immutable",
             "audit_entries": "audit_entries_append_only"}
    if dialect == "postgresql":
        if redaction_aware:
            op.execute(
                """
                CREATE OR REPLACE FUNCTION kontroll_refuse_change_unless_redaction() RETURNS trigger AS $$
                BEGIN
                    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND EXISTS (
                        SELECT 1 FROM redactions
                        WHERE table_name = TG_TABLE_NAME AND row_id = OLD.id AND NOT applied
                    ) THEN
                        RETURN NEW;
                    END IF;
                    RAISE EXCEPTION 'kontroll: % is immutable (% refused)', TG_TABLE_NAME, TG_OP;
                END;
                $$ LANGUAGE plpgsql
                """
            )
        function = "kontroll_refuse_change_unless_redaction" if redaction_aware else "kontroll_refuse_change"
        for table in GUARDED:
            op.execute(f"DROP TRIGGER IF EXISTS {names[table]} ON {table}")
            op.execute(f"CREATE TRIGGER {names[table]} BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {function}()")
        if not redaction_aware:
            op.execute("DROP FUNCTION IF EXISTS kontroll_refuse_change_unless_redaction()")
    elif dialect == "sqlite":
        for table in GUARDED:
            message = ("kontroll: audit_entries is append-only" if table == "audit_entries"
                       else f"kontroll: {table} is immutable")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            when = (f"WHEN NEW.id != OLD.id OR NOT EXISTS (SELECT 1 FROM redactions WHERE "
                    f"table_name = '{table}' AND row_id = OLD.id AND applied = 0) " if redaction_aware else "")
            op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} {when}"
                       f"BEGIN SELECT RAISE(ABORT, '{message}'); END")
