"""captured measurements and excursions

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tags') as batch_op:  # the server default fills the tags already there
        batch_op.add_column(sa.Column('on_excursion', sa.String(length=8), nullable=False, server_default='flag'))
    with op.batch_alter_table('characteristics') as batch_op:
        batch_op.add_column(sa.Column('source_tag', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('source_aggregate', sa.String(length=8), nullable=True))
    with op.batch_alter_table('measurements') as batch_op:
        batch_op.add_column(sa.Column('captured_tag_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('captured_aggregate', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('captured_samples', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('captured_from', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('captured_to', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(op.f('fk_measurements_captured_tag_id_tags'), 'tags', ['captured_tag_id'], ['id'])
    op.create_table('excursions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('execution_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('limit_value', sa.String(length=32), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('extreme', sa.Float(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('ncr_id', sa.Integer(), nullable=True),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['step_executions.id'],
                            name=op.f('fk_excursions_execution_id_step_executions')),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_excursions_tag_id_tags')),
    sa.ForeignKeyConstraint(['ncr_id'], ['nonconformances.id'], name=op.f('fk_excursions_ncr_id_nonconformances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_excursions')),
    sa.UniqueConstraint('execution_id', 'tag_id', 'side', name=op.f('uq_excursions_execution_id_tag_id_side'))
    )
    op.create_index(op.f('ix_excursions_execution_id'), 'excursions', ['execution_id'])
    op.create_index(op.f('ix_excursions_ncr_id'), 'excursions', ['ncr_id'])


def downgrade() -> None:
    op.drop_table('excursions')
    with op.batch_alter_table('measurements') as batch_op:
        batch_op.drop_constraint(op.f('fk_measurements_captured_tag_id_tags'), type_='foreignkey')
        for column in ('captured_to', 'captured_from', 'captured_samples', 'captured_aggregate', 'captured_tag_id'):
            batch_op.drop_column(column)
    with op.batch_alter_table('characteristics') as batch_op:
        batch_op.drop_column('source_aggregate')
        batch_op.drop_column('source_tag')
    with op.batch_alter_table('tags') as batch_op:
        batch_op.drop_column('on_excursion')
