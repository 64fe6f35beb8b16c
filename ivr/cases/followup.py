"""A reporter comes back: reference and PIN checked, status read out, new information joins the case.

Guessing must be hopeless and timing must tell nothing (issue 10, items 7 and 8):
- every counter that stops guessing moves in one SQL statement, before the PIN is checked: a
  guess first claims one of the reference's allowed attempts (`UPDATE ... SET pin_failures =
  pin_failures + 1 ... RETURNING`), so 50 parallel guesses over many processes get exactly the
  allowed number of checks, and the rest are refused as locked;
- a line-wide count per clock hour caps failed checks across all references;
- an unknown reference, a locked one and a wrong PIN run the same statements, one audit row and
  one keyed Argon2 check, and answer alike.
The slow hash runs between two short transactions, so no lock is held while it runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ivr import metrics
from ivr.cases import thread
from ivr.cases.pin_attempts import Claim, GuessLimits, claim_attempt, count_line_attempt, forget_attempt, hour_of
from ivr.cases.reference import PinHasher, new_pin
from ivr.db import utc_now
from ivr.flow.engine import LookupDone
from ivr.models import AuditEvent, Call, Case

ACTOR = "voice:followup"



def verify_reference(
    sessions: sessionmaker[Session],
    pins: PinHasher,
    reference: str | None,
    pin: str | None,
    *,
    limits: GuessLimits,
    now: datetime | None = None,
) -> LookupDone:
    """Check a reference and PIN; on success, the case's status and the operators' message."""
    now = now or utc_now()
    hour = hour_of(now)
    reference = reference or ""
    # One session, two transactions: the call row read in the first stays known in the second
    # (expire_on_commit is off), so writing the audit row reads nothing more for a known reference
    # than for an unknown one.
    with sessions() as session:
        with session.begin():
            line_count = count_line_attempt(session, hour)
            call = session.scalars(select(Call).where(Call.reference == reference)).first()
            call_id = call.id if call is not None else None
            is_capped = line_count > limits.max_failures_per_hour
            claim = None if is_capped else claim_attempt(session, reference, limits, now)
        # Outside any transaction: the slow hash holds no lock. A refused or unknown reference is
        # checked against a dummy hash with the same key and cost.
        is_pin_right = pins.verify(claim.pin_hash if claim else None, pin or "")
        with session.begin():
            return _conclude(session, pins, claim, is_pin_right, is_capped, call_id, pin or "", hour,
                             line_count, limits)


def _conclude(session: Session, pins: PinHasher, claim: Claim | None, is_pin_right: bool, is_capped: bool,
              call_id: int | None, pin: str, hour: int, line_count: int, limits: GuessLimits) -> LookupDone:
    """The second transaction: forget a right attempt, or write the one audit row of a failed one."""
    if claim is not None and is_pin_right:
        return _verified(session, pins, claim, pin, hour)
    metrics.FOLLOWUP_PIN_FAILURES.inc()
    if is_capped:
        metrics.FOLLOWUP_PIN_CAP_REFUSALS.inc()
        _audit(session, "followup.refused_capped", call_id, count=line_count)
        return LookupDone("ended")
    if claim is None:
        _audit(session, "followup.refused_locked" if call_id else "followup.unknown_reference", call_id)
    elif claim.is_now_locked:
        _audit(session, "followup.locked", call_id, failures=claim.failures, minutes=limits.lock_minutes)
    else:
        _audit(session, "followup.pin_failed", call_id, failures=claim.failures)
    return LookupDone("wrong")


def _verified(session: Session, pins: PinHasher, claim: Claim, pin: str, hour: int) -> LookupDone:
    """The right PIN: the counters forget this attempt, and an old-style hash is keyed anew."""
    forget_attempt(session, claim.call_id, hour)
    if pins.needs_rehash(claim.pin_hash):
        session.execute(update(Call).where(Call.id == claim.call_id).values(pin_hash=pins.hash(pin))
                        .execution_options(synchronize_session=False))
    case_row = session.scalars(select(Case).where(Case.call_id == claim.call_id)).first()
    _audit(session, "followup.verified", claim.call_id)
    # The messages not yet heard (the old single message was moved into the thread, migration 0011).
    return LookupDone("ok", case_status=_status_heard(session, case_row),
                      thread=thread.unheard(session, claim.call_id))


def _status_heard(session: Session, case_row: Case | None) -> str:
    """The status the reporter hears: a case closed as a duplicate answers with the case that carries on."""
    from ivr.cases.links import duplicate_of  # links imports opening, which the web side loads lazily

    if case_row is None:
        return "new"
    carrying = duplicate_of(session, case_row)
    return (carrying or case_row).status


def _audit(session: Session, action: str, call_id: int | None, **detail: Any) -> None:
    session.add(AuditEvent(actor=ACTOR, action=action, call_id=call_id, detail=detail))


def issue_new_pin(session: Session, pins: PinHasher, reference: str | None, digits: int) -> LookupDone:
    """A fresh PIN for a verified reporter; the old one stops working."""
    call = session.scalars(select(Call).where(Call.reference == reference)).first() if reference else None
    if call is None:
        return LookupDone("failed")
    pin = new_pin(digits)
    call.pin_hash = pins.hash(pin)
    session.add(AuditEvent(actor=ACTOR, action="followup.pin_reissued", call_id=call.id, detail={}))
    return LookupDone("ok", pin=pin)


def locked_until(call: Call, now: datetime | None = None) -> datetime | None:
    """Until when wrong PINs keep this call's reference locked; None if it is not locked."""
    until = call.locked_until
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
