"""rollup pending minutes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rollup_pending',
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('bucket', name=op.f('pk_rollup_pending'))
    )
    # Rollups already written per batch stay as they are; nothing is pending at upgrade.


def downgrade() -> None:
    op.drop_table('rollup_pending')
