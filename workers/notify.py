"""Urgent reports are pushed to a webhook (the agency's duty officer), ids only, retried by RQ."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.call_times import settle_call_times
from ivr.cases.opening import stamp_once
from ivr.db import utc_now
from ivr.logging import get_logger
from ivr.models import Case
from workers.deps import worker_deps

log = get_logger(__name__)
NOTIFY_TIMEOUT_S = 10.0


class NotifyFailed(Exception):
    """The webhook did not accept the notice; RQ retries the job."""


def _post(http: requests.Session, url: str, payload: dict[str, Any], which: str) -> None:
    response = http.post(url, json=payload, timeout=NOTIFY_TIMEOUT_S, allow_redirects=False)
    if not 200 <= response.status_code < 300:
        # The URL may carry a token of its own: the message names the status only.
        raise NotifyFailed(f"urgent webhook answered HTTP {response.status_code}{which}")


def notify_urgent(case_id: int) -> None:
    """POST {case_id, reference, region_code} for an urgent case, once; no caller data is sent."""
    deps = worker_deps()
    url = deps.settings.urgent_webhook_url
    if not url:
        return
    with deps.sessions() as session:
        case = session.scalars(select(Case).where(Case.id == case_id)).first()
        if case is None or not case.is_urgent or case.notified_at is not None:
            return
        payload = {"case_id": case.id, "reference": case.reference, "region_code": case.region_code}
        call_id = case.call_id
    _post(deps.http, url, payload, "")
    with deps.sessions.begin() as session:
        stamp_once(
            session,
            update(Case).where(Case.id == case_id, Case.notified_at.is_(None)).values(notified_at=utc_now()),
            "case.notified", call_id=call_id, case_id=case_id,
        )
        settle_call_times(session, call_id, deps.settings)
    log.info("case.notified", case_id=case_id)


def unclaimed_urgent_ids(session: Session, now: datetime, after_min: int) -> list[int]:
    """Urgent cases still new and unclaimed `after_min` minutes after they opened, not yet escalated."""
    cutoff = now - timedelta(minutes=after_min)
    query = (
        select(Case.id)
        .where(
            Case.is_urgent.is_(True), Case.status == "new", Case.assignee_id.is_(None),
            Case.escalated_at.is_(None), Case.created_at <= cutoff,
        )
        .order_by(Case.created_at, Case.id)
    )
    return list(session.scalars(query))


def escalate_unclaimed_urgent(case_id: int) -> None:
    """Tell the supervisors, through the urgent webhook, that nobody has claimed an urgent case.

    Once per case: the sweeper enqueues it under one job id, this re-checks the case is still
    unclaimed and not yet escalated, and stamps `escalated_at` only after the webhook took it
    (a failure is retried by RQ). Ids only, like the first notice; `event` tells the two apart.
    """
    deps = worker_deps()
    url = deps.settings.urgent_webhook_url
    if not url:
        return
    after_min = deps.settings.urgent_unclaimed_after_min
    now = utc_now()
    with deps.sessions() as session:
        if case_id not in unclaimed_urgent_ids(session, now, after_min):
            return  # claimed meanwhile, already escalated, or not urgent
        case = session.get_one(Case, case_id)
        waited = now - (case.created_at if case.created_at.tzinfo else case.created_at.replace(tzinfo=UTC))
        payload = {
            "event": "urgent_unclaimed",
            "audience": "supervisors",
            "case_id": case.id,
            "reference": case.reference,
            "region_code": case.region_code,
            "unclaimed_minutes": int(waited.total_seconds() // 60),
            "threshold_minutes": after_min,
        }
        call_id = case.call_id
    _post(deps.http, url, payload, " (unclaimed notice)")
    with deps.sessions.begin() as session:
        stamp_once(
            session,
            update(Case).where(Case.id == case_id, Case.escalated_at.is_(None)).values(escalated_at=utc_now()),
            "case.escalated", call_id=call_id, case_id=case_id, after_min=after_min,
        )
    log.info("case.escalated", case_id=case_id)
