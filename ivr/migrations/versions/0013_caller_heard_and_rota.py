"""intakes.is_held: a take the caller may still record again waits (issue 11, item 6)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """intakes.is_held: a take the caller may still record again is not enqueued (issue 11, item 6)."""
    # A plain ADD COLUMN (SQLite takes one with a default): batch mode would copy the table, and
    # SQLite refuses to drop a table other rows point at while foreign keys are on.
    op.add_column("intakes", sa.Column("is_held", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop intakes.is_held."""
    with op.batch_alter_table("intakes") as batch:
        batch.drop_column("is_held")
