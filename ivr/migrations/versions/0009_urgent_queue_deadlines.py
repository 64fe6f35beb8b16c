"""urgent queue deadlines (slot reserved; filled by its slice)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:40:00
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
