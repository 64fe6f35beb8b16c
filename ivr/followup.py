"""A reporter comes back: reference and PIN checked, status read out, new information joins the case.

Guessing must be hopeless and timing must tell nothing: an unknown reference costs the same slow
hash as a known one, wrong PINs count per reference across every call and number, and a locked
reference answers exactly like a wrong PIN.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.case_reference import hash_pin, new_pin, verify_pin
from ivr.db import utc_now
from ivr.flow.engine import LookupDone
from ivr.models import AuditEvent, Call, Case, CaseDetail

ACTOR = "voice:followup"


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every time we store is UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def verify_reference(
    session: Session,
    reference: str | None,
    pin: str | None,
    *,
    max_failures: int,
    lock_minutes: int,
    now: datetime | None = None,
) -> LookupDone:
    """Check a reference and PIN; on success, the case's status and the operators' message."""
    now = now or utc_now()
    call = session.scalars(select(Call).where(Call.reference == reference)).first() if reference else None
    # Always pay for one Argon2 check, so a missing reference is as slow as a wrong PIN.
    is_pin_right = verify_pin(call.pin_hash if call else None, pin or "")
    if call is None:
        return LookupDone("wrong")
    locked_until = _aware(call.locked_until)
    if locked_until is not None and locked_until > now:
        session.add(AuditEvent(actor=ACTOR, action="followup.refused_locked", call_id=call.id, detail={}))
        return LookupDone("wrong")
    if not is_pin_right:
        call.pin_failures += 1
        detail = {"failures": call.pin_failures}
        session.add(AuditEvent(actor=ACTOR, action="followup.pin_failed", call_id=call.id, detail=detail))
        if call.pin_failures >= max_failures:
            call.locked_until = now + timedelta(minutes=lock_minutes)
            call.pin_failures = 0
            session.add(AuditEvent(actor=ACTOR, action="followup.locked", call_id=call.id,
                                   detail={"minutes": lock_minutes}))
        return LookupDone("wrong")
    call.pin_failures = 0
    call.locked_until = None
    case = session.scalars(select(Case).where(Case.call_id == call.id)).first()
    detail = session.get(CaseDetail, case.id) if case else None
    session.add(AuditEvent(actor=ACTOR, action="followup.verified", call_id=call.id, detail={}))
    return LookupDone(
        "ok",
        case_status=case.status if case else "new",
        # The call state rides in URLs; a long note is cut rather than bloating every request.
        reporter_message=(detail.reporter_message or "")[:500] or None if detail else None,
    )


def issue_new_pin(session: Session, reference: str | None, digits: int) -> LookupDone:
    """A fresh PIN for a verified reporter; the old one stops working."""
    call = session.scalars(select(Call).where(Call.reference == reference)).first() if reference else None
    if call is None:
        return LookupDone("failed")
    pin = new_pin(digits)
    call.pin_hash = hash_pin(pin)
    session.add(AuditEvent(actor=ACTOR, action="followup.pin_reissued", call_id=call.id, detail={}))
    return LookupDone("ok", pin=pin)


def locked_until(call: Call, now: datetime | None = None) -> datetime | None:
    """Until when wrong PINs keep this call's reference locked; None if it is not locked."""
    until = _aware(call.locked_until)
    return until if until is not None and until > (now or utc_now()) else None


def original_call(session: Session, reference: str) -> Call | None:
    """The call whose case a follow-up recording joins."""
    return session.scalars(select(Call).where(Call.reference == reference)).first()


def unlock(session: Session, reference: str, actor: str) -> bool:
    """Lift a lock on a reference (an operator's action); True if it was locked."""
    call = original_call(session, reference)
    if call is None or call.locked_until is None:
        return False
    call.locked_until, call.pin_failures = None, 0
    session.add(AuditEvent(actor=actor, action="followup.unlocked", call_id=call.id, detail={}))
    return True
