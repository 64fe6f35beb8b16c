"""a verdict on every transcript: reliable, unreliable or no speech, with its reasons

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add transcripts.verdict, verdict_reasons, speech_ratio and detected_language."""
    with op.batch_alter_table("transcripts") as batch:
        batch.add_column(sa.Column("verdict", sa.String(16), nullable=True))
        batch.add_column(sa.Column("verdict_reasons", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("speech_ratio", sa.Float(), nullable=True))
        batch.add_column(sa.Column("detected_language", sa.String(8), nullable=True))


def downgrade() -> None:
    """Drop the verdict columns."""
    with op.batch_alter_table("transcripts") as batch:
        for name in ("detected_language", "speech_ratio", "verdict_reasons", "verdict"):
            batch.drop_column(name)
