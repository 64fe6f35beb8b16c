"""cases: an index in the work list's own order (urgent open, open, closed; each oldest first)

The queue sorts by a rank (0 an urgent open case, 1 another open case, 2 a closed one), then
age. With that rank as an index expression, a page of a broad search (a word in a fifth of all
reports, every status) is read in order, 25 rows and a few probes of the search index, instead of
finding and sorting every match (bench/README.md, "The console at the scale of years"). The
expression must stay exactly `ivr.cases.queue.WORK_RANK_SQL`, or the planner cannot match it.

Expand only: an index the previous release does not know and does not hinder.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Frozen here: a migration never imports the application's code.
WORK_RANK = "(CASE WHEN status = 'closed' THEN 2 WHEN is_urgent THEN 0 ELSE 1 END)"


def upgrade() -> None:
    """Add the index."""
    op.create_index("ix_cases_work_order", "cases", [sa.text(WORK_RANK), "created_at", "id"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_cases_work_order", table_name="cases")
