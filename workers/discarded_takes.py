"""A take the caller recorded again: deleted at Twilio, never stored, transcribed or made a case.

The voice webhook marks it `discarded` (ivr.retakes) in the same transaction that files the new
take, so the deletion is in the outbox like any report: a Redis outage delays it, the sweeper
enqueues it, and RQ's retries cover a Twilio API that fails for a while.
"""

from __future__ import annotations

from sqlalchemy import update

from ivr.call_times import settle_call_times
from ivr.cases.opening import record_event
from ivr.db import utc_now
from ivr.logging import get_logger
from ivr.models import DONE, Intake
from ivr.retakes import DISCARDED
from workers import download
from workers.deps import WorkerDeps
from workers.twilio_cleanup import delete_call_log_when_clear

log = get_logger(__name__)


def is_discarded(deps: WorkerDeps, intake_id: int) -> bool:
    """Whether the intake is a take the caller replaced."""
    with deps.sessions() as session:
        intake = session.get(Intake, intake_id)
        return intake is not None and intake.kind == DISCARDED


def delete_discarded_take(deps: WorkerDeps, intake_id: int) -> None:
    """Delete the replaced take at Twilio and mark its intake done; safe to run twice.

    A DownloadError (Twilio's API down) propagates: the job's retries try again.
    """
    settings = deps.settings
    with deps.sessions() as session:
        intake = session.get_one(Intake, intake_id)
        recording_sid, call_id = intake.recording_sid, intake.call_id
        call_sid, is_anonymous = intake.call.call_sid, intake.call.is_anonymous
    was_there = None
    if not settings.keep_on_twilio:
        retry = download.RetryPolicy.for_settings(settings)
        was_there = download.delete_recording(settings, recording_sid, session=deps.http, retry=retry)
    with deps.sessions.begin() as session:
        done = session.execute(
            update(Intake)
            .where(Intake.id == intake_id, Intake.status != DONE)
            .values(status=DONE, last_error=None, updated_at=utc_now())
        )
        if getattr(done, "rowcount", 0) == 1:
            record_event(session, "recording.deleted_at_twilio", call_id=call_id, intake_id=intake_id,
                         was_there=was_there, discarded=True)
        settle_call_times(session, call_id, settings)
    log.info("intake.discarded_deleted", intake_id=intake_id)
    if is_anonymous and not settings.keep_on_twilio:
        # The kept take may have been released first: the call's log goes once both are gone.
        delete_call_log_when_clear(deps, call_id, call_sid)
