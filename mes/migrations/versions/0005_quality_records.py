"""quality records

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('instruments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('calibration_due', sa.Date(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instruments')),
    sa.UniqueConstraint('code', name=op.f('uq_instruments_code'))
    )
    op.create_table('calibrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('calibrated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_calibrations_instrument_id_instruments')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_calibrations_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibrations'))
    )
    with op.batch_alter_table('calibrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibrations_instrument_id'), ['instrument_id'], unique=False)

    op.create_table('signatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('printed_name', sa.String(length=200), nullable=False),
    sa.Column('meaning', sa.String(length=32), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_signatures_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signatures'))
    )
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signatures_user_id'), ['user_id'], unique=False)

    op.create_table('user_qualifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('qualification_code', sa.String(length=32), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_user_qualifications_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_qualifications_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_qualifications')),
    sa.UniqueConstraint('user_id', 'qualification_code', name=op.f('uq_user_qualifications_user_id_qualification_code'))
    )
    with op.batch_alter_table('user_qualifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_qualifications_user_id'), ['user_id'], unique=False)

    op.create_table('deviations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('step_code', sa.String(length=32), nullable=False),
    sa.Column('characteristic', sa.String(length=64), nullable=False),
    sa.Column('lower', sa.String(length=32), nullable=True),
    sa.Column('upper', sa.String(length=32), nullable=True),
    sa.Column('serials', sa.JSON(), nullable=False),
    sa.Column('work_order_id', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('signature_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['signature_id'], ['signatures.id'], name=op.f('fk_deviations_signature_id_signatures')),
    sa.ForeignKeyConstraint(['work_order_id'], ['work_orders.id'], name=op.f('fk_deviations_work_order_id_work_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deviations')),
    sa.UniqueConstraint('number', name=op.f('uq_deviations_number'))
    )
    with op.batch_alter_table('deviations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deviations_step_code'), ['step_code'], unique=False)

    op.create_table('holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('placed_by_id', sa.Integer(), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('release_reason', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['placed_by_id'], ['users.id'], name=op.f('fk_holds_placed_by_id_users')),
    sa.ForeignKeyConstraint(['released_by_id'], ['users.id'], name=op.f('fk_holds_released_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_holds_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holds'))
    )
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holds_unit_id'), ['unit_id'], unique=False)

    op.create_table('ncr_dispositions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ncr_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=32), nullable=False),
    sa.Column('rework_step_code', sa.String(length=32), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=False),
    sa.Column('signature_id', sa.Integer(), nullable=False),
    sa.Column('mrb_signature_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['mrb_signature_id'], ['signatures.id'], name=op.f('fk_ncr_dispositions_mrb_signature_id_signatures')),
    sa.ForeignKeyConstraint(['ncr_id'], ['nonconformances.id'], name=op.f('fk_ncr_dispositions_ncr_id_nonconformances')),
    sa.ForeignKeyConstraint(['signature_id'], ['signatures.id'], name=op.f('fk_ncr_dispositions_signature_id_signatures')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ncr_dispositions')),
    sa.UniqueConstraint('ncr_id', name=op.f('uq_ncr_dispositions_ncr_id'))
    )
    op.create_table('ncr_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ncr_id', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ncr_id'], ['nonconformances.id'], name=op.f('fk_ncr_photos_ncr_id_nonconformances')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_ncr_photos_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ncr_photos'))
    )
    with op.batch_alter_table('ncr_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ncr_photos_ncr_id'), ['ncr_id'], unique=False)

    with op.batch_alter_table('measurements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instrument_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('deviation_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('void_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('void_signature_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('replaces_id', sa.Integer(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_measurements_execution_id_characteristic_id'), type_='unique')
        batch_op.create_index(batch_op.f('ix_measurements_execution_id'), ['execution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_measurements_instrument_id'), ['instrument_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_measurements_deviation_id_deviations'), 'deviations', ['deviation_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_measurements_void_signature_id_signatures'), 'signatures', ['void_signature_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_measurements_instrument_id_instruments'), 'instruments', ['instrument_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_measurements_replaces_id_measurements'), 'measurements', ['replaces_id'], ['id'])

    with op.batch_alter_table('nonconformances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('step_executions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('buyoff_signature_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_step_executions_buyoff_signature_id_signatures'), 'signatures', ['buyoff_signature_id'], ['id'])

    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acceptance_signature_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_units_acceptance_signature_id_signatures'), 'signatures', ['acceptance_signature_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_units_acceptance_signature_id_signatures'), type_='foreignkey')
        batch_op.drop_column('acceptance_signature_id')

    with op.batch_alter_table('step_executions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_step_executions_buyoff_signature_id_signatures'), type_='foreignkey')
        batch_op.drop_column('buyoff_signature_id')

    with op.batch_alter_table('nonconformances', schema=None) as batch_op:
        batch_op.drop_column('closed_at')

    with op.batch_alter_table('measurements', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_measurements_replaces_id_measurements'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_measurements_instrument_id_instruments'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_measurements_void_signature_id_signatures'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_measurements_deviation_id_deviations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_measurements_instrument_id'))
        batch_op.drop_index(batch_op.f('ix_measurements_execution_id'))
        batch_op.create_unique_constraint(batch_op.f('uq_measurements_execution_id_characteristic_id'), ['execution_id', 'characteristic_id'])
        batch_op.drop_column('replaces_id')
        batch_op.drop_column('void_signature_id')
        batch_op.drop_column('void_reason')
        batch_op.drop_column('voided_at')
        batch_op.drop_column('deviation_id')
        batch_op.drop_column('instrument_id')

    with op.batch_alter_table('ncr_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ncr_photos_ncr_id'))

    op.drop_table('ncr_photos')
    op.drop_table('ncr_dispositions')
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_holds_unit_id'))

    op.drop_table('holds')
    with op.batch_alter_table('deviations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deviations_step_code'))

    op.drop_table('deviations')
    with op.batch_alter_table('user_qualifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_qualifications_user_id'))

    op.drop_table('user_qualifications')
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signatures_user_id'))

    op.drop_table('signatures')
    with op.batch_alter_table('calibrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibrations_instrument_id'))

    op.drop_table('calibrations')
    op.drop_table('instruments')
