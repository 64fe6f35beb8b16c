"""calls.reference_spoken and calls.reference_heard: which pair a caller was read, and whether they heard it out

`reference_spoken`: the reference and PIN stored for the call were read out to the caller, so a
"repeat" may read them and a spooled pair from another host must not replace them.
`reference_heard`: the caller stayed on the line to the end of the numbers. NULL for calls
before this revision (unknown), so old cases are not flagged "did not hear".

Expand only: two nullable columns the previous release ignores.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two flags."""
    # Plain ADD COLUMNs: batch mode could copy the table, which SQLite refuses while rows point at it.
    op.add_column("calls", sa.Column("reference_spoken", sa.Boolean(), nullable=True))
    op.add_column("calls", sa.Column("reference_heard", sa.Boolean(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("reference_heard")
        batch.drop_column("reference_spoken")
