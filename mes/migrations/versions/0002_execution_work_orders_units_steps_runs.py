"""execution: work orders, units, steps, runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('serial_counters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_serial_counters')),
    sa.UniqueConstraint('name', 'year', name=op.f('uq_serial_counters_name_year'))
    )
    op.create_table('idempotency_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_idempotency_records_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_records')),
    sa.UniqueConstraint('user_id', 'key', name=op.f('uq_idempotency_records_user_id_key'))
    )
    op.create_table('machine_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('step_code', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_machine_runs_machine_id_machines')),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_machine_runs_started_by_id_users')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_machine_runs_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_machine_runs'))
    )
    with op.batch_alter_table('machine_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_machine_runs_machine_id'), ['machine_id'], unique=False)

    op.create_table('work_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('unit_type_id', sa.Integer(), nullable=False),
    sa.Column('routing_revision_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('released_by_id', sa.Integer(), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['released_by_id'], ['users.id'], name=op.f('fk_work_orders_released_by_id_users')),
    sa.ForeignKeyConstraint(['routing_revision_id'], ['routing_revisions.id'], name=op.f('fk_work_orders_routing_revision_id_routing_revisions')),
    sa.ForeignKeyConstraint(['unit_type_id'], ['unit_types.id'], name=op.f('fk_work_orders_unit_type_id_unit_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_orders')),
    sa.UniqueConstraint('number', name=op.f('uq_work_orders_number'))
    )
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_orders_unit_type_id'), ['unit_type_id'], unique=False)

    op.create_table('units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=40), nullable=False),
    sa.Column('work_order_id', sa.Integer(), nullable=False),
    sa.Column('unit_type_id', sa.Integer(), nullable=False),
    sa.Column('routing_revision_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('next_sequence', sa.Integer(), nullable=False),
    sa.Column('current_execution_id', sa.Integer(), nullable=True),
    sa.Column('on_hold', sa.Boolean(), nullable=False),
    sa.Column('first_pass', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['routing_revision_id'], ['routing_revisions.id'], name=op.f('fk_units_routing_revision_id_routing_revisions')),
    sa.ForeignKeyConstraint(['unit_type_id'], ['unit_types.id'], name=op.f('fk_units_unit_type_id_unit_types')),
    sa.ForeignKeyConstraint(['work_order_id'], ['work_orders.id'], name=op.f('fk_units_work_order_id_work_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_units')),
    sa.UniqueConstraint('serial', name=op.f('uq_units_serial'))
    )
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_units_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_units_unit_type_id'), ['unit_type_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_units_work_order_id'), ['work_order_id'], unique=False)

    op.create_table('step_executions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('step_code', sa.String(length=32), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rework', sa.Boolean(), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.Column('abort_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['completed_by_id'], ['users.id'], name=op.f('fk_step_executions_completed_by_id_users')),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_step_executions_machine_id_machines')),
    sa.ForeignKeyConstraint(['run_id'], ['machine_runs.id'], name=op.f('fk_step_executions_run_id_machine_runs')),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_step_executions_started_by_id_users')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_step_executions_station_id_stations')),
    sa.ForeignKeyConstraint(['step_id'], ['routing_steps.id'], name=op.f('fk_step_executions_step_id_routing_steps')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_step_executions_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_executions'))
    )
    with op.batch_alter_table('step_executions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_step_executions_machine_id'), ['machine_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_step_executions_run_id'), ['run_id'], unique=False)
        batch_op.create_index('ix_step_executions_step_code_started_at', ['step_code', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_step_executions_unit_id'), ['unit_id'], unique=False)

    # units and step_executions point at each other: the second link is added once both exist.
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_units_current_execution_id_step_executions', 'step_executions',
                                    ['current_execution_id'], ['id'])

    op.create_table('measurements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('execution_id', sa.Integer(), nullable=False),
    sa.Column('characteristic_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value_text', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=32), nullable=True),
    sa.Column('nominal', sa.String(length=32), nullable=True),
    sa.Column('lower', sa.String(length=32), nullable=True),
    sa.Column('upper', sa.String(length=32), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['characteristic_id'], ['characteristics.id'], name=op.f('fk_measurements_characteristic_id_characteristics')),
    sa.ForeignKeyConstraint(['execution_id'], ['step_executions.id'], name=op.f('fk_measurements_execution_id_step_executions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measurements')),
    sa.UniqueConstraint('execution_id', 'characteristic_id', name=op.f('uq_measurements_execution_id_characteristic_id'))
    )
    with op.batch_alter_table('measurements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_measurements_characteristic_id'), ['characteristic_id'], unique=False)

    op.create_table('nonconformances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('execution_id', sa.Integer(), nullable=True),
    sa.Column('step_code', sa.String(length=32), nullable=True),
    sa.Column('defect_code', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('failing_values', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['step_executions.id'], name=op.f('fk_nonconformances_execution_id_step_executions')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_nonconformances_opened_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_nonconformances_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nonconformances')),
    sa.UniqueConstraint('number', name=op.f('uq_nonconformances_number'))
    )
    with op.batch_alter_table('nonconformances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nonconformances_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_nonconformances_unit_id'), ['unit_id'], unique=False)

    op.create_table('step_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('execution_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['execution_id'], ['step_executions.id'], name=op.f('fk_step_events_execution_id_step_executions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_step_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_events'))
    )
    with op.batch_alter_table('step_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_step_events_execution_id'), ['execution_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_constraint('fk_units_current_execution_id_step_executions', type_='foreignkey')
    with op.batch_alter_table('step_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_step_events_execution_id'))

    op.drop_table('step_events')
    with op.batch_alter_table('nonconformances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nonconformances_unit_id'))
        batch_op.drop_index(batch_op.f('ix_nonconformances_status'))

    op.drop_table('nonconformances')
    with op.batch_alter_table('measurements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measurements_characteristic_id'))

    op.drop_table('measurements')
    with op.batch_alter_table('step_executions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_step_executions_unit_id'))
        batch_op.drop_index('ix_step_executions_step_code_started_at')
        batch_op.drop_index(batch_op.f('ix_step_executions_run_id'))
        batch_op.drop_index(batch_op.f('ix_step_executions_machine_id'))

    op.drop_table('step_executions')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_units_work_order_id'))
        batch_op.drop_index(batch_op.f('ix_units_unit_type_id'))
        batch_op.drop_index(batch_op.f('ix_units_status'))

    op.drop_table('units')
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_orders_unit_type_id'))

    op.drop_table('work_orders')
    with op.batch_alter_table('machine_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_machine_runs_machine_id'))

    op.drop_table('machine_runs')
    op.drop_table('idempotency_records')
    op.drop_table('serial_counters')
