"""Twilio clean-up: deleting recordings and, for anonymous calls, the call's log at Twilio.

Twilio keeps every recording and a log of every call with the caller's number. A recording is
deleted once our verified copy is stored and the call is over (`release_at_twilio`); for an
anonymous call the call's log goes once every recording it made is gone from Twilio. Calls that
leave no case of their own (dropped in the menu, or a reporter's follow-up, whose recording joins
the original case) are forgotten by `forget_call`, after every recording they made is safe.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr import queueing
from ivr.call_times import settle_call_times
from ivr.cases.opening import stamp_once
from ivr.db import utc_now
from ivr.logging import get_logger
from ivr.models import Call, Case, Intake, StoredRecording
from ivr.retakes import gone_from_twilio
from workers import download
from workers.deps import WorkerDeps, worker_deps
from workers.enqueue import enqueue_once
from workers.failures import RecordingLost

log = get_logger(__name__)

RELEASE_RECHECK_S = 120
FORGET_RECHECK_S = 15 * 60


def call_has_ended(call: Call, intake: Intake, settings: Any, now: datetime | None = None) -> bool:
    """Whether the caller can no longer be listening to the recording.

    Twilio's status callback marks the end; if it never came, a recording older than
    `call_assumed_over_after_s` is taken to be from a finished call.
    """
    if call.status != "in-progress":
        return True
    now = now or utc_now()
    started = intake.created_at
    if call.is_recovered:
        started = min(started, call.started_at)
    return started < now - timedelta(seconds=settings.call_assumed_over_after_s)


def release_at_twilio(intake_id: int, *, deps: WorkerDeps | None = None) -> bool:
    """Delete the recording at Twilio once our verified copy exists and the call is over.

    For anonymous calls, once every recording of the call is gone from Twilio, the call's log
    goes too: it is the last place that holds the caller's number. Returns True when nothing
    of this intake is left at Twilio (or `keep_on_twilio` says to leave it); when the call is
    still on, the job is scheduled again and the sweeper keeps an eye on it.
    """
    deps = deps or worker_deps()
    settings = deps.settings
    if settings.keep_on_twilio:
        return True
    with deps.sessions() as session:
        intake = session.get_one(Intake, intake_id)
        call = intake.call
        stored = session.scalars(select(StoredRecording).where(StoredRecording.intake_id == intake_id)).first()
        if stored is None:
            return False  # no safe copy yet: Twilio's is the only one
        has_ended = call_has_ended(call, intake, settings)
        recording_sid, storage_key = intake.recording_sid, stored.storage_key
        is_deleted, is_purged = stored.deleted_at_twilio is not None, stored.purged_at is not None
        call_id, call_sid, is_anonymous = call.id, call.call_sid, call.is_anonymous
    if not has_ended:
        enqueue_once(
            deps.queue, queueing.RELEASE_AT_TWILIO, intake_id, job_id=f"release-{intake_id}",
            delay_s=RELEASE_RECHECK_S,
        )
        return False
    if not is_deleted:
        if not is_purged and not deps.store.exists(storage_key):
            raise RecordingLost(f"intake {intake_id}: stored copy missing; Twilio's copy kept")
        retry = download.RetryPolicy.for_settings(settings)
        was_there = download.delete_recording(settings, recording_sid, session=deps.http, retry=retry)
        with deps.sessions.begin() as session:
            stamp_once(
                session,
                update(StoredRecording)
                .where(StoredRecording.intake_id == intake_id, StoredRecording.deleted_at_twilio.is_(None))
                .values(deleted_at_twilio=utc_now()),
                "recording.deleted_at_twilio", call_id=call_id, intake_id=intake_id, was_there=was_there,
            )
            settle_call_times(session, call_id, settings)
        log.info("recording.deleted_at_twilio", intake_id=intake_id)
    if is_anonymous:
        delete_call_log_when_clear(deps, call_id, call_sid)
    return True


def delete_call_log_when_clear(deps: WorkerDeps, call_id: int, call_sid: str) -> None:
    """Delete an anonymous call at Twilio once all its recordings there are deleted (a discarded
    take counts once its job deleted it: ivr.retakes)."""
    with deps.sessions() as session:
        call = session.get(Call, call_id)
        has_case = session.scalars(select(Case.id).where(Case.call_id == call_id)).first() is not None
        if call is None or not has_case or call.deleted_at_twilio is not None:
            return
        rows = session.execute(
            select(Intake.id, gone_from_twilio())
            .outerjoin(StoredRecording, StoredRecording.intake_id == Intake.id)
            .where(Intake.call_id == call_id)
        ).all()
    if not all(is_gone for _, is_gone in rows):
        return  # another recording of this call still needs Twilio's copy
    _delete_call_at_twilio(deps, call_id, call_sid)


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
            .where(Intake.source_call_sid == call_sid, ~gone_from_twilio())
        ).all()
    if waiting:
        # A recording this call made is not yet safe here and gone from Twilio: look again later.
        enqueue_once(
            deps.queue, queueing.FORGET_CALL, call_id, job_id=f"forget-{call_id}", delay_s=FORGET_RECHECK_S,
        )
        return False
    _delete_call_at_twilio(deps, call_id, call_sid)
    return True



def _delete_call_at_twilio(deps: WorkerDeps, call_id: int, call_sid: str) -> None:
    """Delete the call's log at Twilio (it holds the caller's number) and record it once."""
    retry = download.RetryPolicy.for_settings(deps.settings)
    was_there = download.delete_call(deps.settings, call_sid, session=deps.http, retry=retry)
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
