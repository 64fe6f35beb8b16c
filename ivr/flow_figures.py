"""Call figures for the flow diagram, from the database every web host shares.

Each call's row says where it ended (`Call.last_node`, written by Twilio's status callback);
the versions table says which flow each version belongs to, so calls are counted per flow
(every version of it) whichever number they came in on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr.db import utc_now
from ivr.flow.diagram import Figures, figures_from_endings
from ivr.flow.model import Flow
from ivr.models import Call, FlowVersion

PERIODS_DAYS = (1, 7, 30, 365)


def call_endings(session: Session, flow_name: str, *, since: datetime | None = None) -> dict[str | None, int]:
    """How many finished calls of this flow ended at each node (None: not known)."""
    versions = select(FlowVersion.version).where(FlowVersion.name == flow_name)
    query = (
        select(Call.last_node, func.count())
        .where(Call.flow_version.in_(versions), Call.status != "in-progress")
        .group_by(Call.last_node)
    )
    if since is not None:
        query = query.where(Call.started_at >= since)
    return {node: int(count) for node, count in session.execute(query).all()}


def flow_figures(session: Session, flow: Flow, *, days: int | None = 30) -> Figures:
    """Per-node figures of a flow's calls over the last `days` (None: all time)."""
    since = utc_now() - timedelta(days=days) if days else None
    period = f"last {days} day{'s' if days != 1 else ''}" if days else "all time"
    return figures_from_endings(flow, call_endings(session, flow.name, since=since), period=period)
