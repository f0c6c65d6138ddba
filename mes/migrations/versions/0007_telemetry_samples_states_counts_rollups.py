"""telemetry samples states counts rollups

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('machine_states',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_machine_states_machine_id_machines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_machine_states'))
    )
    with op.batch_alter_table('machine_states', schema=None) as batch_op:
        batch_op.create_index('ix_machine_states_machine_id_started_at', ['machine_id', 'started_at'], unique=True)

    op.create_table('counter_states',
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('raw', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_counter_states_tag_id_tags')),
    sa.PrimaryKeyConstraint('tag_id', name=op.f('pk_counter_states'))
    )
    op.create_table('production_counts',
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('delta', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_production_counts_machine_id_machines')),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_production_counts_tag_id_tags')),
    sa.PrimaryKeyConstraint('tag_id', 'at', name=op.f('pk_production_counts'))
    )
    with op.batch_alter_table('production_counts', schema=None) as batch_op:
        batch_op.create_index('ix_production_counts_machine_id_at', ['machine_id', 'at'], unique=False)

    op.create_table('samples',
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('source_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('text', sa.String(length=200), nullable=True),
    sa.Column('status', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('backfilled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_samples_tag_id_tags')),
    sa.PrimaryKeyConstraint('tag_id', 'source_time', name=op.f('pk_samples')),
    postgresql_partition_by='RANGE (source_time)'
    )
    op.create_table('tag_rollups',
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('resolution', sa.String(length=8), nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('minimum', sa.Float(), nullable=False),
    sa.Column('maximum', sa.Float(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_tag_rollups_tag_id_tags')),
    sa.PrimaryKeyConstraint('tag_id', 'resolution', 'bucket', name=op.f('pk_tag_rollups'))
    )
    op.create_table('process_samples',
    sa.Column('execution_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('source_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('text', sa.String(length=200), nullable=True),
    sa.Column('status', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['step_executions.id'], name=op.f('fk_process_samples_execution_id_step_executions')),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_process_samples_tag_id_tags')),
    sa.PrimaryKeyConstraint('execution_id', 'tag_id', 'source_time', name=op.f('pk_process_samples'))
    )


def downgrade() -> None:
    op.drop_table('process_samples')
    op.drop_table('tag_rollups')
    op.drop_table('samples')
    with op.batch_alter_table('production_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_production_counts_machine_id_at')

    op.drop_table('production_counts')
    op.drop_table('counter_states')
    with op.batch_alter_table('machine_states', schema=None) as batch_op:
        batch_op.drop_index('ix_machine_states_machine_id_started_at')

    op.drop_table('machine_states')
