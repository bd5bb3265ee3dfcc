"""audit chain: prev_hash/entry_hash on audit_entries, no foreign keys, refuse UPDATE/DELETE

Revision ID: 0007
Revises: 0006

Entries that exist when this runs are chained in id order with the audit key, which
``kontroll db upgrade`` passes in (``config.attributes["audit_key"]``); without a key the
upgrade of a database that already has entries is refused rather than leave them unchained.
"""

from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa
from alembic import context, op

import kontroll.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_entries = sa.table(
    'audit_entries',
    sa.column('id', sa.Integer()),
    sa.column('occurred_dt', kontroll.db.UTCDateTime(timezone=True)),
    sa.column('actor_user_id', sa.Integer()),
    sa.column('actor_label', sa.String()),
    sa.column('action', sa.String()),
    sa.column('object_type', sa.String()),
    sa.column('object_id', sa.String()),
    sa.column('unit_id', sa.Integer()),
    sa.column('details', sa.Text()),
    sa.column('ip_address', sa.String()),
    sa.column('prev_hash', sa.String()),
    sa.column('entry_hash', sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_constraint('fk_audit_entries_actor_user_id_users', type_='foreignkey')
        batch_op.drop_constraint('fk_audit_entries_unit_id_units', type_='foreignkey')
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('entry_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_entries_unit_id'), ['unit_id'], unique=False)

    _chain_existing_entries()

    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('entry_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_entries_prev_hash'), ['prev_hash'])
        batch_op.create_unique_constraint(batch_op.f('uq_audit_entries_entry_hash'), ['entry_hash'])

    create_append_only_triggers()


def _chain_existing_entries() -> None:
    from kontroll.core.audit import GENESIS_HASH, entry_hash

    bind = op.get_bind()
    rows = bind.execute(sa.select(_entries).order_by(_entries.c.id)).mappings().all()
    if not rows:
        return
    key = context.config.attributes.get('audit_key')
    if not key:
        raise RuntimeError(
            "Granskningsloggen har poster men ingen nyckel (AUDIT_KEY) gavs till migreringen: "
            "kör uppgraderingen med `kontroll db upgrade`, som läser nyckeln ur konfigurationen."
        )
    prev = GENESIS_HASH
    for row in rows:
        digest = entry_hash(key, prev, SimpleNamespace(**row))  # type: ignore[arg-type]
        bind.execute(
            _entries.update().where(_entries.c.id == row['id']).values(prev_hash=prev, entry_hash=digest)
        )
        prev = digest


def create_append_only_triggers() -> None:
    """The database refuses UPDATE and DELETE (and on PostgreSQL TRUNCATE) of audit entries."""
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        # kontroll_refuse_change() is created by migration 0002.
        op.execute(
            "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION kontroll_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION kontroll_refuse_change()"
        )
    elif dialect == 'sqlite':
        for event in ('UPDATE', 'DELETE'):
            op.execute(
                f"CREATE TRIGGER audit_entries_no_{event.lower()} BEFORE {event} ON audit_entries "
                "BEGIN SELECT RAISE(ABORT, 'kontroll: audit_entries is append-only'); END"
            )


def drop_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries")
    elif dialect == 'sqlite':
        for event in ('update', 'delete'):
            op.execute(f"DROP TRIGGER IF EXISTS audit_entries_no_{event}")


def downgrade() -> None:
    drop_append_only_triggers()
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_entries_entry_hash'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_audit_entries_prev_hash'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_audit_entries_unit_id'))
        batch_op.drop_column('entry_hash')
        batch_op.drop_column('prev_hash')
        batch_op.create_foreign_key('fk_audit_entries_unit_id_units', 'units', ['unit_id'], ['id'], ondelete='RESTRICT')
        batch_op.create_foreign_key('fk_audit_entries_actor_user_id_users', 'users', ['actor_user_id'], ['id'],
                                    ondelete='RESTRICT')
