"""a line-wide count of failed follow-up PIN checks per hour, for the line-wide cap

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add pin_failure_hours."""
    op.create_table(
        "pin_failure_hours",
        sa.Column("hour", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_pin_failure_hours")),
    )


def downgrade() -> None:
    """Drop pin_failure_hours."""
    op.drop_table("pin_failure_hours")
