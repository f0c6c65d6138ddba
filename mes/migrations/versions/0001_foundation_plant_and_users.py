"""foundation: plant and users

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendars',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('around_the_clock', sa.Boolean(), nullable=False),
    sa.Column('shifts', sa.JSON(), nullable=False),
    sa.Column('days_off', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendars')),
    sa.UniqueConstraint('name', name=op.f('uq_calendars_name'))
    )
    op.create_table('defect_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_defect_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_defect_codes_code'))
    )
    op.create_table('lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lines')),
    sa.UniqueConstraint('code', name=op.f('uq_lines_code')),
    sa.UniqueConstraint('number', name=op.f('uq_lines_number'))
    )
    op.create_table('plant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('target_satellites_per_year', sa.Integer(), nullable=False),
    sa.Column('spares_allowance', sa.String(length=32), nullable=False),
    sa.Column('serial_format', sa.String(length=100), nullable=False),
    sa.Column('config_hash', sa.String(length=64), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plant'))
    )
    op.create_table('qualifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualifications')),
    sa.UniqueConstraint('code', name=op.f('uq_qualifications_code'))
    )
    op.create_table('roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('permissions', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roles')),
    sa.UniqueConstraint('name', name=op.f('uq_roles_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('badge', sa.String(length=64), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('pin_hash', sa.String(length=255), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('badge', name=op.f('uq_users_badge')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('stations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('calendar_id', sa.Integer(), nullable=False),
    sa.Column('self_checks', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], name=op.f('fk_stations_calendar_id_calendars')),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_stations_line_id_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stations')),
    sa.UniqueConstraint('code', name=op.f('uq_stations_code'))
    )
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stations_line_id'), ['line_id'], unique=False)

    op.create_table('unit_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('part_number', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('qty_per_satellite', sa.Integer(), nullable=False),
    sa.Column('serial_prefix', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_unit_types_line_id_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_types')),
    sa.UniqueConstraint('line_id', name=op.f('uq_unit_types_line_id')),
    sa.UniqueConstraint('part_number', name=op.f('uq_unit_types_part_number')),
    sa.UniqueConstraint('serial_prefix', name=op.f('uq_unit_types_serial_prefix'))
    )
    op.create_table('user_roles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('fk_user_roles_role_id_roles')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_roles_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'role_id', name=op.f('pk_user_roles'))
    )
    op.create_table('machines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('endpoint', sa.String(length=255), nullable=False),
    sa.Column('calendar_id', sa.Integer(), nullable=False),
    sa.Column('positions', sa.Integer(), nullable=False),
    sa.Column('ideal_cycle_s', sa.Integer(), nullable=True),
    sa.Column('subscription', sa.JSON(), nullable=False),
    sa.Column('state_map', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], name=op.f('fk_machines_calendar_id_calendars')),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_machines_line_id_lines')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_machines_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_machines')),
    sa.UniqueConstraint('code', name=op.f('uq_machines_code'))
    )
    with op.batch_alter_table('machines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_machines_line_id'), ['line_id'], unique=False)

    op.create_table('routing_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_type_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_type_id'], ['unit_types.id'], name=op.f('fk_routing_revisions_unit_type_id_unit_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_revisions')),
    sa.UniqueConstraint('unit_type_id', 'revision', name=op.f('uq_routing_revisions_unit_type_id_revision'))
    )
    with op.batch_alter_table('routing_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_revisions_unit_type_id'), ['unit_type_id'], unique=False)

    op.create_table('routing_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('routing_revision_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('standard_minutes', sa.Integer(), nullable=False),
    sa.Column('machine_run', sa.Boolean(), nullable=False),
    sa.Column('signoff', sa.Boolean(), nullable=False),
    sa.Column('qualifications', sa.JSON(), nullable=False),
    sa.Column('instruction', sa.String(length=4000), nullable=False),
    sa.ForeignKeyConstraint(['routing_revision_id'], ['routing_revisions.id'], name=op.f('fk_routing_steps_routing_revision_id_routing_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_steps')),
    sa.UniqueConstraint('routing_revision_id', 'code', name=op.f('uq_routing_steps_routing_revision_id_code')),
    sa.UniqueConstraint('routing_revision_id', 'sequence', name=op.f('uq_routing_steps_routing_revision_id_sequence'))
    )
    with op.batch_alter_table('routing_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_steps_routing_revision_id'), ['routing_revision_id'], unique=False)

    op.create_table('tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('node_id', sa.String(length=255), nullable=False),
    sa.Column('meaning', sa.String(length=32), nullable=False),
    sa.Column('data_type', sa.String(length=32), nullable=False),
    sa.Column('eng_unit', sa.String(length=32), nullable=True),
    sa.Column('scale', sa.String(length=32), nullable=False),
    sa.Column('offset', sa.String(length=32), nullable=False),
    sa.Column('low_limit', sa.String(length=32), nullable=True),
    sa.Column('high_limit', sa.String(length=32), nullable=True),
    sa.Column('subscription', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_tags_machine_id_machines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tags')),
    sa.UniqueConstraint('machine_id', 'name', name=op.f('uq_tags_machine_id_name'))
    )
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tags_machine_id'), ['machine_id'], unique=False)

    op.create_table('characteristics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=True),
    sa.Column('nominal', sa.String(length=32), nullable=True),
    sa.Column('lower', sa.String(length=32), nullable=True),
    sa.Column('upper', sa.String(length=32), nullable=True),
    sa.Column('key', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['step_id'], ['routing_steps.id'], name=op.f('fk_characteristics_step_id_routing_steps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_characteristics')),
    sa.UniqueConstraint('step_id', 'name', name=op.f('uq_characteristics_step_id_name'))
    )
    with op.batch_alter_table('characteristics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_characteristics_step_id'), ['step_id'], unique=False)

    op.create_table('step_stations',
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_step_stations_station_id_stations')),
    sa.ForeignKeyConstraint(['step_id'], ['routing_steps.id'], name=op.f('fk_step_stations_step_id_routing_steps')),
    sa.PrimaryKeyConstraint('step_id', 'station_id', name=op.f('pk_step_stations'))
    )


def downgrade() -> None:
    op.drop_table('step_stations')
    with op.batch_alter_table('characteristics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_characteristics_step_id'))

    op.drop_table('characteristics')
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tags_machine_id'))

    op.drop_table('tags')
    with op.batch_alter_table('routing_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_steps_routing_revision_id'))

    op.drop_table('routing_steps')
    with op.batch_alter_table('routing_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_revisions_unit_type_id'))

    op.drop_table('routing_revisions')
    with op.batch_alter_table('machines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_machines_line_id'))

    op.drop_table('machines')
    op.drop_table('user_roles')
    op.drop_table('unit_types')
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stations_line_id'))

    op.drop_table('stations')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('roles')
    op.drop_table('qualifications')
    op.drop_table('plant')
    op.drop_table('lines')
    op.drop_table('defect_codes')
    op.drop_table('calendars')
