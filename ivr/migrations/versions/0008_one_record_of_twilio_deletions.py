"""one record of Twilio deleting a call's log: calls.deleted_at_twilio, no longer cases.call_deleted_at_twilio

Expand, then contract: the previous release still maps cases.call_deleted_at_twilio, so this
revision only copies it onto the calls and the code stops using it; a later release drops it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Copy each case's call_deleted_at_twilio onto its call, where the call has none."""
    op.execute(
        "UPDATE calls SET deleted_at_twilio = "
        "(SELECT cases.call_deleted_at_twilio FROM cases WHERE cases.call_id = calls.id) "
        "WHERE deleted_at_twilio IS NULL AND EXISTS "
        "(SELECT 1 FROM cases WHERE cases.call_id = calls.id AND cases.call_deleted_at_twilio IS NOT NULL)"
    )


def downgrade() -> None:
    """Fill cases.call_deleted_at_twilio from the calls again, for the code that reads it there."""
    op.execute(
        "UPDATE cases SET call_deleted_at_twilio = "
        "(SELECT calls.deleted_at_twilio FROM calls WHERE calls.id = cases.call_id) "
        "WHERE call_deleted_at_twilio IS NULL"
    )
