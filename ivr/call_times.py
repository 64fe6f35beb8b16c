"""How precisely the line remembers when an anonymous call happened.

A start and an end kept to the second, or a call's length, can be matched against the phone
company's records of who called 1424 when. So once an anonymous call is over, every time stored
for it (the call, its intakes, case, recordings, transcripts and the line's own audit events) is
cut to `anonymous_time_resolution_minutes` (an hour by default) and its end and length are not
kept at all. Operators still see the day. Named calls keep exact times.

While the call lasts and while its recordings are being processed the line needs exact times
(the sweeper's timeouts, "has the caller hung up yet?"), so they are cut as each step finishes:
by the status callback and at the end of each worker job, in the same transaction as the step's
own writes. The audit trail is append-only, so the line's own events about an anonymous call
are written with the cut time in the first place (`remember_settings` tells sessions the resolution).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, sessionmaker

from ivr.db import utc_now
from ivr.models import DONE, FAILED, AuditEvent, Call, Case, Intake, StoredRecording, Transcript
from ivr.settings import Settings

# Audit events the line writes by itself about a call; an operator's own actions keep their times.
LINE_ACTORS = ("voice", "voice:followup", "worker")
_SETTINGS_KEY = "ivr.settings"
DEFAULT_MINUTES = int(Settings.model_fields["anonymous_time_resolution_minutes"].default)


def coarse_time(moment: datetime, minutes: int) -> datetime:
    """`moment` cut down to a multiple of `minutes` since midnight UTC (never into another day)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    aware = aware.astimezone(UTC)
    midnight = aware.replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(minutes=minutes)
    return midnight + (aware - midnight) // step * step


def _coarse(moment: datetime | None, minutes: int) -> datetime | None:
    return None if moment is None else coarse_time(moment, minutes)


def has_ended(call: Call, *, assumed_over_after_s: int, now: datetime | None = None) -> bool:
    """Whether the call is over: its status callback came, or it started long enough ago."""
    if call.status != "in-progress":
        return True
    started = call.started_at if call.started_at.tzinfo else call.started_at.replace(tzinfo=UTC)
    return started < (now or utc_now()) - timedelta(seconds=assumed_over_after_s)


def blur_call_times(session: Session, call_id: int, *, minutes: int, assumed_over_after_s: int) -> None:
    """Cut every stored time of an anonymous, finished call to `minutes`; named calls are left alone.

    Idempotent: run it after any step that wrote a time. Intakes still in work keep their exact
    times (timeouts read them) until a later run finds them finished.
    """
    call = session.get(Call, call_id)
    if call is None or not call.is_anonymous or not has_ended(call, assumed_over_after_s=assumed_over_after_s):
        return
    call.started_at = coarse_time(call.started_at, minutes)
    call.ended_at = None  # an end and a length give away what the start's hour hides
    call.duration_s = None
    call.deleted_at_twilio = _coarse(call.deleted_at_twilio, minutes)
    intakes = list(session.scalars(select(Intake).where(Intake.call_id == call_id)))
    finished = [intake.id for intake in intakes if intake.status in (DONE, FAILED)]
    # UPDATE statements naming every column: an ORM flush would let `onupdate` stamp "now" again.
    for intake in intakes:
        if intake.id in finished:
            session.execute(update(Intake).where(Intake.id == intake.id).values(
                created_at=coarse_time(intake.created_at, minutes), updated_at=coarse_time(intake.updated_at, minutes),
                enqueued_at=_coarse(intake.enqueued_at, minutes)))
    for case in session.scalars(select(Case).where(Case.call_id == call_id)).all():
        session.execute(update(Case).where(Case.id == case.id).values(
            created_at=coarse_time(case.created_at, minutes), updated_at=coarse_time(case.updated_at, minutes),
            notified_at=_coarse(case.notified_at, minutes)))
    if finished:
        for stored in session.scalars(select(StoredRecording).where(StoredRecording.intake_id.in_(finished))):
            stored.stored_at = coarse_time(stored.stored_at, minutes)
            stored.deleted_at_twilio = _coarse(stored.deleted_at_twilio, minutes)
        for transcript in session.scalars(select(Transcript).where(Transcript.intake_id.in_(finished))).all():
            session.execute(update(Transcript).where(Transcript.id == transcript.id).values(
                created_at=coarse_time(transcript.created_at, minutes),
                updated_at=coarse_time(transcript.updated_at, minutes)))
    session.flush()


def settle_call_times(session: Session, call_id: int, settings: Settings) -> None:
    """`blur_call_times` with the line's settings, for the end of each step that wrote a time."""
    blur_call_times(session, call_id, minutes=settings.anonymous_time_resolution_minutes,
                    assumed_over_after_s=settings.call_assumed_over_after_s)


def remember_settings(sessions: sessionmaker[Session], settings: Settings) -> sessionmaker[Session]:
    """Let sessions from `sessions` cut the times of the line's audit events about anonymous calls."""
    sessions.configure(info={_SETTINGS_KEY: settings})
    return sessions


@event.listens_for(Session, "before_flush")
def _cut_line_event_times(session: Session, flush_context: Any, instances: Any) -> None:
    """The line's audit events about an anonymous call get the cut time as they are written."""
    new = [obj for obj in session.new if isinstance(obj, AuditEvent) and obj.actor in LINE_ACTORS]
    if not new:
        return
    settings = session.info.get(_SETTINGS_KEY)
    minutes = settings.anonymous_time_resolution_minutes if settings is not None else DEFAULT_MINUTES
    with session.no_autoflush:
        for audit in new:
            call_id = audit.call_id
            if call_id is None and audit.intake_id is not None:
                intake = session.get(Intake, audit.intake_id)
                call_id = intake.call_id if intake is not None else None
            call = session.get(Call, call_id) if call_id is not None else None
            if call is not None and call.is_anonymous:
                audit.at = coarse_time(audit.at or utc_now(), minutes)
