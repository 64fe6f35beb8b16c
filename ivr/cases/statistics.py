"""The supervisors' overview: reports per day and region, waiting times, where callers hang up.

Scoped by `principal.case_scope()` like every case query; calls without a case are counted for
supervisors only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, literal_column, select
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.cases.queue import start_of_day
from ivr.db import utc_now
from ivr.display_time import local_time
from ivr.models import Call, Case, CaseDetail, Intake


@dataclass(frozen=True)
class WaitStats:
    """How long reports waited before someone took them, in seconds."""

    handled: int
    median_s: float | None
    p90_s: float | None
    waiting_now: int
    oldest_waiting_s: float | None


@dataclass(frozen=True)
class Overview:
    """The figures of the supervisors' overview."""

    days: list[tuple[date, int]]
    regions: list[tuple[str | None, int]]
    waits: WaitStats
    waits_by_region: list[tuple[str | None, WaitStats]]
    dropped: list[tuple[str | None, str, int]]  # last menu node, call status, calls
    calls_total: int

    def as_json(self) -> dict[str, Any]:
        """The overview as the API returns it."""

        def waits(stats: WaitStats) -> dict[str, Any]:
            return {
                "handled": stats.handled,
                "median_s": stats.median_s,
                "p90_s": stats.p90_s,
                "waiting_now": stats.waiting_now,
                "oldest_waiting_s": stats.oldest_waiting_s,
            }

        return {
            "reports_per_day": [{"date": day.isoformat(), "reports": n} for day, n in self.days],
            "reports_per_region": [{"region_code": r, "reports": n} for r, n in self.regions],
            "waiting": waits(self.waits),
            "waiting_per_region": [{"region_code": r, **waits(s)} for r, s in self.waits_by_region],
            "dropped_calls": [{"last_node": node, "status": status, "calls": n} for node, status, n in self.dropped],
            "calls_total": self.calls_total,
        }


def _local_day(session: Session, column: Any) -> Any:
    """The Kazakhstan calendar day of a stored UTC time, in SQL (UTC+5 all year)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column) + literal_column("interval '5 hours'"))
    return func.date(column, "+5 hours")


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return ordered[index]



def period_days(raw: str | None, *, minimum: int = 1, default: int = 30, maximum: int = 365) -> int:
    """The `?days=` of an overview, kept within sensible bounds; nonsense gives the default."""
    try:
        return min(max(int(raw or default), minimum), maximum)
    except ValueError:
        return default


def overview(session: Session, principal: Principal, *, days: int = 30, now: datetime | None = None) -> Overview:
    """Reports per day and region, waiting times and where callers hang up, over the last `days`."""
    now = now or utc_now()
    today = local_time(now).date()  # type: ignore[union-attr]
    first_day = today - timedelta(days=days - 1)
    since = start_of_day(first_day)
    scope = principal.case_scope()

    day = _local_day(session, Case.created_at)
    per_day = {
        str(value): int(count)
        for value, count in session.execute(
            select(day, func.count()).where(scope, Case.created_at >= since).group_by(day)
        )
    }
    day_series = [(first_day + timedelta(days=i), per_day.get((first_day + timedelta(days=i)).isoformat(), 0))
                  for i in range(days)]
    regions = sorted(
        (
            (region, int(count))
            for region, count in session.execute(
                select(Case.region_code, func.count())
                .where(scope, Case.created_at >= since)
                .group_by(Case.region_code)
            )
        ),
        key=lambda item: (-item[1], item[0] or "~"),
    )

    rows = session.execute(
        select(Case.region_code, Case.created_at, CaseDetail.first_handled_at, Case.status)
        .outerjoin(CaseDetail, CaseDetail.case_id == Case.id)
        .where(scope, Case.created_at >= since)
    ).all()
    waiting_rows = session.execute(
        select(Case.region_code, Case.created_at).where(scope, Case.status == "new")
    ).all()

    def stats(region_rows: list[Any], waiting: list[Any]) -> WaitStats:
        waits = [
            (handled - created).total_seconds()
            for _, created, handled, _ in region_rows
            if handled is not None
        ]
        open_waits = [(now - created).total_seconds() for _, created in waiting]
        return WaitStats(
            handled=len(waits),
            median_s=_percentile(waits, 0.5),
            p90_s=_percentile(waits, 0.9),
            waiting_now=len(open_waits),
            oldest_waiting_s=max(open_waits) if open_waits else None,
        )

    region_codes = sorted({row[0] for row in rows} | {row[0] for row in waiting_rows}, key=lambda r: r or "~")
    by_region = [
        (code, stats([r for r in rows if r[0] == code], [w for w in waiting_rows if w[0] == code]))
        for code in region_codes
    ]

    dropped: list[tuple[str | None, str, int]] = []
    calls_total = 0
    if principal.sees_all_regions:
        # Calls that left no recording have no case, so no region scope applies: supervisors only.
        has_intake = exists().where(Intake.call_id == Call.id)
        dropped = [
            (node, status, int(count))
            for node, status, count in session.execute(
                select(Call.last_node, Call.status, func.count())
                .where(~has_intake, Call.started_at >= since, Call.status != "in-progress")
                .group_by(Call.last_node, Call.status)
            )
        ]
        dropped.sort(key=lambda item: (-item[2], item[0] or "~", item[1]))
        calls_total = int(session.scalar(select(func.count()).select_from(Call).where(Call.started_at >= since)) or 0)
    return Overview(day_series, regions, stats(list(rows), list(waiting_rows)), by_region, dropped, calls_total)
