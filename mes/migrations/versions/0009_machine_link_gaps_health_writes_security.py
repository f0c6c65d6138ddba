"""machine link: telemetry gaps, endpoint health, machine writes, endpoint security

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('telemetry_gaps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('backfilled', sa.Integer(), nullable=False),
    sa.Column('declared_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_telemetry_gaps_machine_id_machines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_telemetry_gaps'))
    )
    op.create_index('ix_telemetry_gaps_machine_id_started_at', 'telemetry_gaps', ['machine_id', 'started_at'])
    op.create_table('endpoint_health',
    sa.Column('endpoint', sa.String(length=255), nullable=False),
    sa.Column('connected', sa.Boolean(), nullable=False),
    sa.Column('last_value_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('spool_readings', sa.Integer(), nullable=False),
    sa.Column('spool_fill', sa.Float(), nullable=False),
    sa.Column('clock_offset_s', sa.Float(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('endpoint', name=op.f('pk_endpoint_health'))
    )
    op.create_table('machine_writes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('execution_id', sa.Integer(), nullable=True),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_machine_writes_machine_id_machines')),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_machine_writes_tag_id_tags')),
    sa.ForeignKeyConstraint(['execution_id'], ['step_executions.id'],
                            name=op.f('fk_machine_writes_execution_id_step_executions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_machine_writes'))
    )
    op.create_index('ix_machine_writes_status', 'machine_writes', ['status'])
    op.create_index(op.f('ix_machine_writes_machine_id'), 'machine_writes', ['machine_id'])
    op.create_index(op.f('ix_machine_writes_execution_id'), 'machine_writes', ['execution_id'])
    with op.batch_alter_table('machines') as batch_op:
        batch_op.add_column(sa.Column('security', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('clock_alarm_s', sa.Float(), nullable=False, server_default='2.0'))


def downgrade() -> None:
    with op.batch_alter_table('machines') as batch_op:
        batch_op.drop_column('clock_alarm_s')
        batch_op.drop_column('security')
    op.drop_table('machine_writes')
    op.drop_table('endpoint_health')
    op.drop_table('telemetry_gaps')
