"""referrals (the receiving body of a forwarded case), linked cases, and the investigation outcome

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 04:40:00

Expand only: two new tables and three nullable columns on case_details.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add case_referrals, case_links, and case_details' duplicate_of / investigation columns."""
    op.create_table(
        "case_referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("recipient_code", sa.String(length=64), nullable=False),
        sa.Column("recipient_names", sa.JSON(), nullable=False),
        sa.Column("forwarded_by", sa.Integer(), nullable=False),
        sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("include_identity", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("identity_set_by", sa.Integer(), nullable=True),
        sa.Column("identity_set_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_referrals_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["forwarded_by"], ["operators.id"], name=op.f("fk_case_referrals_forwarded_by_operators")
        ),
        sa.ForeignKeyConstraint(
            ["identity_set_by"], ["operators.id"], name=op.f("fk_case_referrals_identity_set_by_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_referrals")),
    )
    op.create_index(op.f("ix_case_referrals_case_id"), "case_referrals", ["case_id"])
    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("linked_case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_links_case_id_cases")),
        sa.ForeignKeyConstraint(["linked_case_id"], ["cases.id"], name=op.f("fk_case_links_linked_case_id_cases")),
        sa.ForeignKeyConstraint(["created_by"], ["operators.id"], name=op.f("fk_case_links_created_by_operators")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_links")),
        sa.UniqueConstraint("case_id", "linked_case_id", name=op.f("uq_case_links_case_id")),
    )
    op.create_index(op.f("ix_case_links_case_id"), "case_links", ["case_id"])
    op.create_index(op.f("ix_case_links_linked_case_id"), "case_links", ["linked_case_id"])
    with op.batch_alter_table("case_details") as batch:
        batch.add_column(sa.Column("duplicate_of_case_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("investigation_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("investigation_by", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_case_details_duplicate_of_case_id_cases"), "cases", ["duplicate_of_case_id"], ["id"]
        )
        batch.create_foreign_key(
            op.f("fk_case_details_investigation_by_operators"), "operators", ["investigation_by"], ["id"]
        )


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("case_details") as batch:
        batch.drop_constraint(op.f("fk_case_details_investigation_by_operators"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_case_details_duplicate_of_case_id_cases"), type_="foreignkey")
        batch.drop_column("investigation_by")
        batch.drop_column("investigation_at")
        batch.drop_column("duplicate_of_case_id")
    op.drop_index(op.f("ix_case_links_linked_case_id"), table_name="case_links")
    op.drop_index(op.f("ix_case_links_case_id"), table_name="case_links")
    op.drop_table("case_links")
    op.drop_index(op.f("ix_case_referrals_case_id"), table_name="case_referrals")
    op.drop_table("case_referrals")
