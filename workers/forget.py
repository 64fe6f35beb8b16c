"""Deleting Twilio's log of anonymous calls that leave no case of their own.

Twilio keeps a log of every call with the caller's number. For an anonymous report the job
chain deletes it once the recordings are safe (`jobs.release_at_twilio`). Calls that leave no
case of their own (dropped in the menu, or a reporter's follow-up, whose recording joins the
original case) are deleted here, after every recording they made is safe and gone from Twilio.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.call_times import settle_call_times
from ivr.cases.opening import stamp_once
from ivr.db import utc_now
from ivr.logging import get_logger
from ivr.models import Call, Intake, StoredRecording
from ivr.queueing import FORGET_CALL
from workers import download
from workers.deps import WorkerDeps, worker_deps
from workers.jobs import download_policy, enqueue_once

log = get_logger(__name__)
RECHECK_S = 15 * 60


def forget_call(call_id: int, *, deps: WorkerDeps | None = None) -> bool:
    """Delete an anonymous call's log at Twilio once its recordings are safe; True when done."""
    deps = deps or worker_deps()
    if deps.settings.keep_on_twilio:
        return False
    with deps.sessions() as session:
        call = session.get(Call, call_id)
        if call is None or not call.is_anonymous or call.deleted_at_twilio is not None:
            return call is not None and call.deleted_at_twilio is not None
        call_sid = call.call_sid
        waiting = session.scalars(
            select(Intake.id)
            .outerjoin(StoredRecording, StoredRecording.intake_id == Intake.id)
            .where(Intake.source_call_sid == call_sid, StoredRecording.deleted_at_twilio.is_(None))
        ).all()
    if waiting:
        # A recording this call made is not yet safe here and gone from Twilio: look again later.
        enqueue_once(deps.queue, FORGET_CALL, call_id, job_id=f"forget-{call_id}", delay_s=RECHECK_S)
        return False
    was_there = download.delete_call(deps.settings, call_sid, session=deps.http, retry=download_policy(deps))
    with deps.sessions.begin() as session:
        stamp_once(
            session,
            update(Call)
            .where(Call.id == call_id, Call.deleted_at_twilio.is_(None))
            .values(deleted_at_twilio=utc_now()),
            "call.deleted_at_twilio", call_id=call_id, was_there=was_there,
        )
        settle_call_times(session, call_id, deps.settings)
    log.info("call.deleted_at_twilio", call_id=call_id)
    return True


def calls_to_forget(session: Session, now: datetime, *, older_than_s: int) -> list[int]:
    """Anonymous calls without a case of their own, ended a while ago, still in Twilio's log."""
    has_intakes = select(Intake.id).where(Intake.call_id == Call.id).exists()
    return list(
        session.scalars(
            select(Call.id).where(
                Call.is_anonymous.is_(True),
                Call.deleted_at_twilio.is_(None),
                # Anonymous calls keep no end time (ivr.call_times): the status says it ended.
                Call.status != "in-progress",
                Call.started_at < now - timedelta(seconds=older_than_s),
                ~has_intakes,
            )
        )
    )
