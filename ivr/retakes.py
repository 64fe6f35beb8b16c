"""Record again: the caller's new take replaces the one before it, and only the kept take is a report.

Every take is filed the moment Twilio posts it (the outbox: nothing is lost if the caller hangs
up at the review menu), but it is *held*: nobody enqueues it while the caller may still press
"record again". A take goes to work when the caller is told the report is accepted (the step
that reads the reference), when the call ends, or when the sweeper stops waiting for either.
A new take of the same call marks the held one before it `discarded`: its job only deletes it
at Twilio (no stored copy, no case, no transcript), so no recording is left behind there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from ivr.db import utc_now
from ivr.intake import claim_for_enqueue
from ivr.models import DONE, PENDING, AuditEvent, Call, Intake, StoredRecording

DISCARDED = "discarded"
# A take whose call never reported its end is sent after this long anyway: a review lasts
# minutes (a 5-minute take played back once), and a report must not wait on a lost callback.
HELD_AT_MOST_S = 20 * 60


def kept() -> ColumnElement[bool]:
    """Intakes that are part of a report (everything but a take the caller recorded again)."""
    return Intake.kind != DISCARDED


def gone_from_twilio() -> ColumnElement[bool]:
    """An intake's recording no longer at Twilio (in a query outer-joining StoredRecording): its
    stored copy says deleted, or it was a discarded take whose job (deleting it there) is done."""
    return or_(StoredRecording.deleted_at_twilio.is_not(None), and_(Intake.kind == DISCARDED, Intake.status == DONE))


def discard_replaced(session: Session, call: Call, replaced_sid: str, by: Intake) -> int | None:
    """Mark the call's held take `replaced_sid` discarded now that `by` replaces it; its id, or
    None when there is nothing to discard (already sent, already discarded, or never filed)."""
    if replaced_sid == by.recording_sid:
        return None
    changed = session.execute(
        update(Intake)
        .where(
            Intake.call_id == call.id, Intake.recording_sid == replaced_sid, Intake.kind == "report",
            Intake.is_held.is_(True), Intake.status == PENDING,
        )
        .values(kind=DISCARDED, is_held=False, updated_at=utc_now())
    )
    if getattr(changed, "rowcount", 0) != 1:
        return None
    intake_id = session.scalars(select(Intake.id).where(Intake.recording_sid == replaced_sid)).one()
    session.add(AuditEvent(actor="voice", action="intake.discarded", call_id=call.id, intake_id=intake_id,
                           detail={"replaced_by": by.id}))
    session.flush()
    return intake_id


def send_held(session: Session, call_id: int) -> list[int]:
    """Stop holding the call's takes; the ids of those this caller claimed (enqueue them after commit)."""
    ids = list(session.scalars(select(Intake.id).where(Intake.call_id == call_id, Intake.is_held.is_(True))))
    if not ids:
        return []
    session.execute(update(Intake).where(Intake.id.in_(ids)).values(is_held=False, updated_at=utc_now()))
    return [intake_id for intake_id in ids if claim_for_enqueue(session, intake_id)]


def send_held_of_call_sid(session: Session, call_sid: str) -> list[int]:
    """`send_held` for the call with this CallSid (none yet: nothing to send)."""
    call_id = session.scalar(select(Call.id).where(Call.call_sid == call_sid))
    return send_held(session, call_id) if call_id is not None else []


def release_overdue(session: Session, now: datetime | None = None) -> list[int]:
    """The sweeper's part: stop holding takes whose call ended, or that waited past HELD_AT_MOST_S.

    Returns their ids; the sweeper's usual pass enqueues the ready ones.
    """
    cutoff = (now or utc_now()) - timedelta(seconds=HELD_AT_MOST_S)
    ended = select(Call.id).where(Call.status != "in-progress")
    ids = list(session.scalars(
        select(Intake.id).where(Intake.is_held.is_(True), or_(Intake.call_id.in_(ended), Intake.created_at < cutoff))
    ))
    if ids:
        session.execute(update(Intake).where(Intake.id.in_(ids)).values(is_held=False, updated_at=utc_now()))
    return ids
