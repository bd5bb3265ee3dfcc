"""genomgångar: plans, participants, results per case, återkoppling; brister from genomgångar

Brister keep one table: ``review_id`` becomes nullable and ``genomgang_result_id`` is added,
with a check that exactly one of them is set.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 08:53:43.639190
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kontroll.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('genomgangar',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_dt', kontroll.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=True),
    sa.Column('template_version_id', sa.Integer(), nullable=True),
    sa.Column('case_count', sa.Integer(), nullable=True),
    sa.Column('started_dt', kontroll.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_dt', kontroll.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state <> 'stängd' OR closed_dt IS NOT NULL", name=op.f('ck_genomgangar_closed')),
    sa.CheckConstraint("state = 'planerad' OR (snapshot_id IS NOT NULL AND template_version_id IS NOT NULL AND started_dt IS NOT NULL)", name=op.f('ck_genomgangar_started')),
    sa.CheckConstraint("state IN ('planerad', 'pågående', 'stängd')", name=op.f('ck_genomgangar_state')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_genomgangar_closed_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_genomgangar_created_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['snapshot_id'], ['case_list_snapshots.id'], name=op.f('fk_genomgangar_snapshot_id_case_list_snapshots'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_genomgangar_started_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['template_version_id'], ['template_versions.id'], name=op.f('fk_genomgangar_template_version_id_template_versions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_genomgangar_unit_id_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_genomgangar'))
    )
    with op.batch_alter_table('genomgangar', schema=None) as batch_op:
        batch_op.create_index('ix_genomgangar_unit_id_year', ['unit_id', 'year'], unique=False)

    op.create_table('genomgang_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('genomgang_id', sa.Integer(), nullable=False),
    sa.Column('handlaggare_key', sa.String(length=200), nullable=False),
    sa.Column('given_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_dt', kontroll.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['genomgang_id'], ['genomgangar.id'], name=op.f('fk_genomgang_feedback_genomgang_id_genomgangar'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_genomgang_feedback_recorded_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_genomgang_feedback'))
    )
    with op.batch_alter_table('genomgang_feedback', schema=None) as batch_op:
        batch_op.create_index('ix_genomgang_feedback_genomgang_id_handlaggare_key', ['genomgang_id', 'handlaggare_key'], unique=False)

    op.create_table('genomgang_participants',
    sa.Column('genomgang_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['genomgang_id'], ['genomgangar.id'], name=op.f('fk_genomgang_participants_genomgang_id_genomgangar'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_genomgang_participants_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('genomgang_id', 'user_id', name=op.f('pk_genomgang_participants'))
    )
    op.create_table('genomgang_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('genomgang_id', sa.Integer(), nullable=False),
    sa.Column('snapshot_case_id', sa.Integer(), nullable=False),
    sa.Column('result', sa.String(length=20), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_dt', kontroll.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("result IN ('utan_anmarkning', 'brist')", name=op.f('ck_genomgang_results_result')),
    sa.ForeignKeyConstraint(['genomgang_id'], ['genomgangar.id'], name=op.f('fk_genomgang_results_genomgang_id_genomgangar'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_genomgang_results_recorded_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['snapshot_case_id'], ['snapshot_cases.id'], name=op.f('fk_genomgang_results_snapshot_case_id_snapshot_cases'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_genomgang_results')),
    sa.UniqueConstraint('genomgang_id', 'snapshot_case_id', name=op.f('uq_genomgang_results_genomgang_id_snapshot_case_id'))
    )
    with op.batch_alter_table('genomgang_results', schema=None) as batch_op:
        batch_op.create_index('ix_genomgang_results_snapshot_case_id', ['snapshot_case_id'], unique=False)

    with op.batch_alter_table('brister', schema=None) as batch_op:
        batch_op.add_column(sa.Column('genomgang_result_id', sa.Integer(), nullable=True))
        batch_op.alter_column('review_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_brister_genomgang_result_id_item_key'), ['genomgang_result_id', 'item_key'])
        batch_op.create_foreign_key(batch_op.f('fk_brister_genomgang_result_id_genomgang_results'), 'genomgang_results', ['genomgang_result_id'], ['id'], ondelete='RESTRICT')
        batch_op.create_check_constraint(batch_op.f('ck_brister_one_source'),
                                         '(review_id IS NULL) <> (genomgang_result_id IS NULL)')



def downgrade() -> None:
    # brister from genomgångar (and their åtgärd links) cannot live without review_id
    op.execute("DELETE FROM atgard_brister WHERE brist_id IN "
               "(SELECT id FROM brister WHERE genomgang_result_id IS NOT NULL)")
    op.execute("DELETE FROM brister WHERE genomgang_result_id IS NOT NULL")
    with op.batch_alter_table('brister', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_brister_one_source'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_brister_genomgang_result_id_genomgang_results'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_brister_genomgang_result_id_item_key'), type_='unique')
        batch_op.alter_column('review_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('genomgang_result_id')

    with op.batch_alter_table('genomgang_results', schema=None) as batch_op:
        batch_op.drop_index('ix_genomgang_results_snapshot_case_id')

    op.drop_table('genomgang_results')
    op.drop_table('genomgang_participants')
    with op.batch_alter_table('genomgang_feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_genomgang_feedback_genomgang_id_handlaggare_key')

    op.drop_table('genomgang_feedback')
    with op.batch_alter_table('genomgangar', schema=None) as batch_op:
        batch_op.drop_index('ix_genomgangar_unit_id_year')

    op.drop_table('genomgangar')
