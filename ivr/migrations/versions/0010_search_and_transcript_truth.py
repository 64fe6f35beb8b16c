"""search without plain text (a keyed blind index), saved filters, versioned transcript corrections

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 04:40:00

The index is empty after this migration: `ivr cases reindex` fills it from the encrypted texts
(the migration holds no data key, so it cannot read them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add search_terms, saved_filters, transcript_versions and the transcript's version columns."""
    op.create_table(
        "search_terms",
        sa.Column("term", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("case_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("source", sa.String(length=1), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("term", "case_id", "source", "source_id", name=op.f("pk_search_terms")),
    )
    op.create_index("ix_search_terms_source", "search_terms", ["source", "source_id"])
    op.create_table(
        "saved_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.LargeBinary(), nullable=False),
        sa.Column("query", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], name=op.f("fk_saved_filters_operator_id_operators")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_filters")),
    )
    op.create_index(op.f("ix_saved_filters_operator_id"), "saved_filters", ["operator_id"])
    op.create_table(
        "transcript_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transcript_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.LargeBinary(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["transcript_id"], ["transcripts.id"], name=op.f("fk_transcript_versions_transcript_id_transcripts")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["operators.id"], name=op.f("fk_transcript_versions_author_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_versions")),
        sa.UniqueConstraint("transcript_id", "version", name=op.f("uq_transcript_versions_transcript_id")),
    )
    op.create_index(op.f("ix_transcript_versions_transcript_id"), "transcript_versions", ["transcript_id"])
    with op.batch_alter_table("transcripts") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("corrected_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True))
    # The queue's filters: urgent, category and new information (status, region, assignee are indexed already).
    with op.batch_alter_table("cases") as batch:
        batch.create_index("ix_cases_category", ["category"])
        batch.create_index("ix_cases_is_urgent_status", ["is_urgent", "status"])
        batch.create_index("ix_cases_has_new_info", ["has_new_info"])
    # The work list reads open cases oldest first; after years nearly every case is closed, so a
    # partial index on the open ones keeps the queue's count and page small (bench/README.md).
    op.create_index(
        "ix_cases_open_created_at", "cases", ["created_at", "id"],
        postgresql_where=sa.text("status <> 'closed'"), sqlite_where=sa.text("status <> 'closed'"),
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_index("ix_cases_open_created_at", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_has_new_info")
        batch.drop_index("ix_cases_is_urgent_status")
        batch.drop_index("ix_cases_category")
    with op.batch_alter_table("transcripts") as batch:
        for name in ("corrected_at", "corrected_by", "version"):
            batch.drop_column(name)
    op.drop_index(op.f("ix_transcript_versions_transcript_id"), table_name="transcript_versions")
    op.drop_table("transcript_versions")
    op.drop_index(op.f("ix_saved_filters_operator_id"), table_name="saved_filters")
    op.drop_table("saved_filters")
    op.drop_index("ix_search_terms_source", table_name="search_terms")
    op.drop_table("search_terms")
