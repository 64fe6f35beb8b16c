"""Opening and updating cases from intakes, idempotently, with an audit trail.

RQ delivers a job at least once and two workers may race on the same call, so every write
here is an insert that ignores a duplicate (the database's unique keys pick one winner) or
an update that never unsets what is known.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Update, exists, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ivr.cases import search_index
from ivr.models import AuditEvent, Call, Case, Intake, Transcript

ACTOR = "worker"


def insert_once(session: Session, model: type[Any], unique: str, /, **values: Any) -> bool:
    """Insert a row unless one with the same `unique` column exists; True for the one that wrote it."""
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
    # RETURNING, not rowcount: with RETURNING in play psycopg reports rowcount -1 on PostgreSQL.
    statement = (
        insert.values(**values)
        .on_conflict_do_nothing(index_elements=[unique])
        .returning(*sa_inspect(model).primary_key)
    )
    return session.execute(statement).first() is not None


def record_event(
    session: Session,
    action: str,
    *,
    call_id: int | None = None,
    intake_id: int | None = None,
    actor: str = ACTOR,
    **detail: Any,
) -> None:
    """Append an audit event; `detail` holds ids and counts only, never caller data."""
    session.add(AuditEvent(actor=actor, action=action, call_id=call_id, intake_id=intake_id, detail=detail))


def stamp_once(session: Session, statement: Update, action: str, **event: Any) -> bool:
    """Run an UPDATE that matches only until it is done (an `IS NULL` guard on its timestamp),
    and audit it as `action` for the one run that did it: a rerun or a racing worker writes no
    second event. True for that run."""
    if getattr(session.execute(statement), "rowcount", 0) != 1:
        return False
    record_event(session, action, **event)
    return True


def has_event(session: Session, action: str, *, intake_id: int) -> bool:
    """Whether an intake already has this audit event (a rerun must not write it twice)."""
    query = select(exists().where(AuditEvent.action == action, AuditEvent.intake_id == intake_id))
    return bool(session.scalar(query))


def transcript_summary(session: Session, call_id: int, *, is_enabled: bool = True) -> str:
    """One word for operators about a call's transcripts: done, pending, failed or none."""
    if not is_enabled:
        return "none"
    rows = session.execute(
        select(Intake.id, Transcript.status)
        .outerjoin(Transcript, Transcript.intake_id == Intake.id)
        .where(Intake.call_id == call_id, Intake.kind != "discarded")  # a replaced take has none
    ).all()
    statuses = {status or "pending" for _, status in rows}
    if "failed" in statuses:
        return "failed"
    if statuses and statuses <= {"done"}:
        return "done"
    return "pending"


def open_case(
    session: Session, intake: Intake, transcript: Transcript | None, *, is_transcribed: bool = True
) -> Case:
    """The call's case, opened by the first intake; a later recording on it sets has_new_info.

    Idempotent: running it again for the same intake changes nothing and writes no new event.
    """
    call: Call = intake.call
    is_new = insert_once(
        session,
        Case,
        "call_id",
        call_id=call.id,
        reference=call.reference,
        status="new",
        is_urgent=call.is_urgent,
        region_code=call.region_code,
        language=call.language,
        is_anonymous=call.is_anonymous,
        has_new_info=False,
        is_recovered=call.is_recovered or intake.kind == "recovered",
        transcript_status="pending" if is_transcribed else "none",
    )
    case = session.scalars(select(Case).where(Case.call_id == call.id)).one()
    if is_new:
        record_event(session, "case.opened", call_id=call.id, intake_id=intake.id, case_id=case.id)
    else:
        # The other callback, or a later recording, may have taught the call more; keep what is known.
        case.reference = case.reference or call.reference
        case.language = case.language or call.language
        case.region_code = case.region_code or call.region_code
        case.is_urgent = case.is_urgent or call.is_urgent
        case.is_anonymous = case.is_anonymous or call.is_anonymous
        if not (
            has_event(session, "case.opened", intake_id=intake.id)
            or has_event(session, "case.updated", intake_id=intake.id)
        ):
            case.has_new_info = True
            record_event(session, "case.updated", call_id=call.id, intake_id=intake.id, case_id=case.id)
            from ivr.cases.links import followup_on_duplicate  # links imports this module

            followup_on_duplicate(session, case, intake)  # closed as a duplicate: the open case hears of it
    if transcript is not None or not is_transcribed:
        case.transcript_status = transcript_summary(session, call.id, is_enabled=is_transcribed)
    session.flush()
    if transcript is not None and transcript.status == "done":
        search_index.index_transcript(session, transcript, case.id)  # transcribed before the case opened
    return case
