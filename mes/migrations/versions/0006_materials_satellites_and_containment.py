"""materials, satellites and containment

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('part_number', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('tracking', sa.String(length=8), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parts')),
    sa.UniqueConstraint('part_number', name=op.f('uq_parts_part_number'))
    )
    op.create_table('satellites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('build', sa.String(length=32), nullable=False),
    sa.Column('programme', sa.String(length=100), nullable=False),
    sa.Column('need_date', sa.Date(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_satellites_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_satellites')),
    sa.UniqueConstraint('build', name=op.f('uq_satellites_build'))
    )
    with op.batch_alter_table('satellites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_satellites_need_date'), ['need_date'], unique=False)

    op.create_table('containments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('signature_id', sa.Integer(), nullable=False),
    sa.Column('placed_by_id', sa.Integer(), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['placed_by_id'], ['users.id'], name=op.f('fk_containments_placed_by_id_users')),
    sa.ForeignKeyConstraint(['signature_id'], ['signatures.id'], name=op.f('fk_containments_signature_id_signatures')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_containments')),
    sa.UniqueConstraint('number', name=op.f('uq_containments_number'))
    )
    op.create_table('received_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('receipt', sa.String(length=32), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('identifier', sa.String(length=64), nullable=False),
    sa.Column('supplier', sa.String(length=200), nullable=False),
    sa.Column('coc_reference', sa.String(length=200), nullable=False),
    sa.Column('expiry', sa.Date(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('remaining', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('on_hold', sa.Boolean(), nullable=False),
    sa.Column('received_by_id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decision_signature_id', sa.Integer(), nullable=True),
    sa.Column('decision_note', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['decision_signature_id'], ['signatures.id'], name=op.f('fk_received_items_decision_signature_id_signatures')),
    sa.ForeignKeyConstraint(['part_id'], ['parts.id'], name=op.f('fk_received_items_part_id_parts')),
    sa.ForeignKeyConstraint(['received_by_id'], ['users.id'], name=op.f('fk_received_items_received_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_received_items')),
    sa.UniqueConstraint('part_id', 'identifier', name=op.f('uq_received_items_part_id_identifier'))
    )
    with op.batch_alter_table('received_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_received_items_identifier'), ['identifier'], unique=False)
        batch_op.create_index(batch_op.f('ix_received_items_part_id'), ['part_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_received_items_receipt'), ['receipt'], unique=False)
        batch_op.create_index(batch_op.f('ix_received_items_status'), ['status'], unique=False)

    op.create_table('bom_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=True),
    sa.Column('unit_type_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['part_id'], ['parts.id'], name=op.f('fk_bom_items_part_id_parts')),
    sa.ForeignKeyConstraint(['step_id'], ['routing_steps.id'], name=op.f('fk_bom_items_step_id_routing_steps')),
    sa.ForeignKeyConstraint(['unit_type_id'], ['unit_types.id'], name=op.f('fk_bom_items_unit_type_id_unit_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bom_items')),
    sa.UniqueConstraint('step_id', 'sequence', name=op.f('uq_bom_items_step_id_sequence'))
    )
    with op.batch_alter_table('bom_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bom_items_step_id'), ['step_id'], unique=False)

    op.create_table('allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('satellite_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('unit_type_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('allocated_by_id', sa.Integer(), nullable=False),
    sa.Column('allocated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by_id', sa.Integer(), nullable=True),
    sa.Column('removal_reason', sa.String(length=1000), nullable=True),
    sa.Column('removal_signature_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['allocated_by_id'], ['users.id'], name=op.f('fk_allocations_allocated_by_id_users')),
    sa.ForeignKeyConstraint(['removal_signature_id'], ['signatures.id'], name=op.f('fk_allocations_removal_signature_id_signatures')),
    sa.ForeignKeyConstraint(['removed_by_id'], ['users.id'], name=op.f('fk_allocations_removed_by_id_users')),
    sa.ForeignKeyConstraint(['satellite_id'], ['satellites.id'], name=op.f('fk_allocations_satellite_id_satellites')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_allocations_unit_id_units')),
    sa.ForeignKeyConstraint(['unit_type_id'], ['unit_types.id'], name=op.f('fk_allocations_unit_type_id_unit_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allocations'))
    )
    with op.batch_alter_table('allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_allocations_satellite_id'), ['satellite_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_allocations_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index('ux_allocations_position_filled', ['satellite_id', 'unit_type_id', 'position'], unique=True, sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))
        batch_op.create_index('ux_allocations_unit_allocated', ['unit_id'], unique=True, sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))

    op.create_table('containment_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('containment_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('received_item_id', sa.Integer(), nullable=True),
    sa.Column('satellite_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['containment_id'], ['containments.id'], name=op.f('fk_containment_items_containment_id_containments')),
    sa.ForeignKeyConstraint(['received_item_id'], ['received_items.id'], name=op.f('fk_containment_items_received_item_id_received_items')),
    sa.ForeignKeyConstraint(['satellite_id'], ['satellites.id'], name=op.f('fk_containment_items_satellite_id_satellites')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_containment_items_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_containment_items'))
    )
    with op.batch_alter_table('containment_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_containment_items_containment_id'), ['containment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_containment_items_satellite_id'), ['satellite_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_containment_items_unit_id'), ['unit_id'], unique=False)

    op.create_table('consumptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('execution_id', sa.Integer(), nullable=False),
    sa.Column('bom_item_id', sa.Integer(), nullable=False),
    sa.Column('step_code', sa.String(length=32), nullable=False),
    sa.Column('received_item_id', sa.Integer(), nullable=True),
    sa.Column('component_unit_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('consumed_by_id', sa.Integer(), nullable=False),
    sa.Column('consumed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by_id', sa.Integer(), nullable=True),
    sa.Column('removal_reason', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['bom_item_id'], ['bom_items.id'], name=op.f('fk_consumptions_bom_item_id_bom_items')),
    sa.ForeignKeyConstraint(['component_unit_id'], ['units.id'], name=op.f('fk_consumptions_component_unit_id_units')),
    sa.ForeignKeyConstraint(['consumed_by_id'], ['users.id'], name=op.f('fk_consumptions_consumed_by_id_users')),
    sa.ForeignKeyConstraint(['execution_id'], ['step_executions.id'], name=op.f('fk_consumptions_execution_id_step_executions')),
    sa.ForeignKeyConstraint(['received_item_id'], ['received_items.id'], name=op.f('fk_consumptions_received_item_id_received_items')),
    sa.ForeignKeyConstraint(['removed_by_id'], ['users.id'], name=op.f('fk_consumptions_removed_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_consumptions_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consumptions'))
    )
    with op.batch_alter_table('consumptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consumptions_component_unit_id'), ['component_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consumptions_execution_id'), ['execution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consumptions_received_item_id'), ['received_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consumptions_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index('ux_consumptions_component_unit_installed', ['component_unit_id'], unique=True, sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))

    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('containment_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_holds_containment_id'), ['containment_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_holds_containment_id_containments'), 'containments', ['containment_id'], ['id'])

    with op.batch_alter_table('nonconformances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('received_item_id', sa.Integer(), nullable=True))
        batch_op.alter_column('unit_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_nonconformances_received_item_id'), ['received_item_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_nonconformances_received_item_id_received_items'), 'received_items', ['received_item_id'], ['id'])
        batch_op.create_check_constraint('unit_or_received_item', '(unit_id IS NULL) <> (received_item_id IS NULL)')


def downgrade() -> None:
    with op.batch_alter_table('nonconformances', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_nonconformances_received_item_id_received_items'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_nonconformances_received_item_id'))
        batch_op.drop_constraint('unit_or_received_item', type_='check')
        batch_op.alter_column('unit_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('received_item_id')

    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_holds_containment_id_containments'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_holds_containment_id'))
        batch_op.drop_column('containment_id')

    with op.batch_alter_table('consumptions', schema=None) as batch_op:
        batch_op.drop_index('ux_consumptions_component_unit_installed', sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_consumptions_unit_id'))
        batch_op.drop_index(batch_op.f('ix_consumptions_received_item_id'))
        batch_op.drop_index(batch_op.f('ix_consumptions_execution_id'))
        batch_op.drop_index(batch_op.f('ix_consumptions_component_unit_id'))

    op.drop_table('consumptions')
    with op.batch_alter_table('containment_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_containment_items_unit_id'))
        batch_op.drop_index(batch_op.f('ix_containment_items_satellite_id'))
        batch_op.drop_index(batch_op.f('ix_containment_items_containment_id'))

    op.drop_table('containment_items')
    with op.batch_alter_table('allocations', schema=None) as batch_op:
        batch_op.drop_index('ux_allocations_unit_allocated', sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))
        batch_op.drop_index('ux_allocations_position_filled', sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_allocations_unit_id'))
        batch_op.drop_index(batch_op.f('ix_allocations_satellite_id'))

    op.drop_table('allocations')
    with op.batch_alter_table('bom_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bom_items_step_id'))

    op.drop_table('bom_items')
    with op.batch_alter_table('received_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_received_items_status'))
        batch_op.drop_index(batch_op.f('ix_received_items_receipt'))
        batch_op.drop_index(batch_op.f('ix_received_items_part_id'))
        batch_op.drop_index(batch_op.f('ix_received_items_identifier'))

    op.drop_table('received_items')
    op.drop_table('containments')
    with op.batch_alter_table('satellites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_satellites_need_date'))

    op.drop_table('satellites')
    op.drop_table('parts')
