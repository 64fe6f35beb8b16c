"""Urgent reports are pushed to a webhook (the agency's duty officer), ids only, retried by RQ."""

from __future__ import annotations

from sqlalchemy import select, update

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
    response = deps.http.post(url, json=payload, timeout=NOTIFY_TIMEOUT_S, allow_redirects=False)
    if not 200 <= response.status_code < 300:
        # The URL may carry a token of its own: the message names the status only.
        raise NotifyFailed(f"urgent webhook answered HTTP {response.status_code}")
    with deps.sessions.begin() as session:
        stamp_once(
            session,
            update(Case).where(Case.id == case_id, Case.notified_at.is_(None)).values(notified_at=utc_now()),
            "case.notified", call_id=call_id, case_id=case_id,
        )
        settle_call_times(session, call_id, deps.settings)
    log.info("case.notified", case_id=case_id)
