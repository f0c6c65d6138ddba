"""a routing step's recipe, written to the machine at the step's start

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('routing_steps') as batch_op:
        batch_op.add_column(sa.Column('recipe', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('routing_steps') as batch_op:
        batch_op.drop_column('recipe')
