"""referrals links authorship (slot reserved; filled by its slice)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 04:40:00
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
