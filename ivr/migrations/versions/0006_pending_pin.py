"""the PIN a caller is about to hear, encrypted, until the call ends (it never rides in a URL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add calls.pending_pin_ciphertext."""
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("pending_pin_ciphertext", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Drop calls.pending_pin_ciphertext."""
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("pending_pin_ciphertext")
