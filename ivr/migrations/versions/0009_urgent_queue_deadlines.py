"""urgent duty queue and deadlines: when supervisors were told of an unclaimed urgent case; oldest first

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add cases.escalated_at and an index on cases.created_at (the queue reads oldest first)."""
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_cases_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("cases") as batch:
        batch.drop_index(batch.f("ix_cases_created_at"))
        batch.drop_column("escalated_at")
