"""Proof of authorship without identity (issue 13.6; design in README "Proof of authorship").

A reporter who was never identified proves, years later, that they made a report by keying its
reference and PIN in front of a supervisor. The check is the follow-up line's own: the same
per-reference lock-out and line-wide hourly cap, claimed in one SQL statement before the keyed
Argon2 check (so the console is no side door for guessing), and one audit row per attempt under
the supervisor's name. A verified check shows what the line knows about the report, never who
made it: when it came (anonymous calls only to the hour), the region, that it was anonymous,
where it was forwarded, whether it led to an investigation, and the report's fingerprint (the
SHA-256 printed on the referral package). The audit row is the record of the verification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ivr import metrics
from ivr.accounts import Principal
from ivr.cases import casework
from ivr.cases.pin_attempts import GuessLimits, claim_attempt, count_line_attempt, forget_attempt, hour_of
from ivr.cases.reference import PinHasher
from ivr.cases.referrals import report_fingerprint
from ivr.db import utc_now
from ivr.models import AuditEvent, Call, Case, CaseDetail, CaseReferral


@dataclass(frozen=True)
class Verified:
    """What a verified reference and PIN prove, for the supervisor's screen."""

    case_id: int
    reference: str
    received_at: datetime
    region_code: str | None
    was_anonymous: bool
    status: str
    referrals: list[tuple[datetime, dict[str, str]]]
    investigation_at: datetime | None
    fingerprint: str
    verified_at: datetime
    record_id: int  # the audit event that records this verification


def verify(
    sessions: sessionmaker[Session], pins: PinHasher, principal: Principal, reference: str, pin: str, *,
    limits: GuessLimits, now: datetime | None = None,
) -> Verified | None:
    """Check a reference and PIN for a supervisor; None when they do not match (or are locked, or capped).

    Every outcome is audited under the supervisor; an unknown, locked or wrong answer look alike.
    """
    if not principal.is_supervisor:
        raise casework.NotAllowed("error.403")
    now = now or utc_now()
    hour = hour_of(now)
    reference = "".join(ch for ch in reference or "" if ch.isdigit())
    pin = "".join(ch for ch in pin or "" if ch.isdigit())
    with sessions() as session:
        with session.begin():
            line_count = count_line_attempt(session, hour)
            call = session.scalars(select(Call).where(Call.reference == reference)).first()
            call_id = call.id if call is not None else None
            is_capped = line_count > limits.max_failures_per_hour
            claim = None if is_capped else claim_attempt(session, reference, limits, now)
        is_right = pins.verify(claim.pin_hash if claim else None, pin)  # outside any transaction
        with session.begin():
            if claim is None or not is_right:
                metrics.FOLLOWUP_PIN_FAILURES.inc()
                outcome = ("capped" if is_capped else "locked" if claim is None and call_id else
                           "unknown" if claim is None else "locked_now" if claim.is_now_locked else "wrong")
                session.add(AuditEvent(actor=principal.actor, action="authorship.failed", call_id=call_id,
                                       detail={"outcome": outcome}))
                return None
            forget_attempt(session, claim.call_id, hour)
            if pins.needs_rehash(claim.pin_hash):  # keyed anew under today's key, as the phone does
                session.execute(update(Call).where(Call.id == claim.call_id).values(pin_hash=pins.hash(pin))
                                .execution_options(synchronize_session=False))
            case = session.scalars(select(Case).where(Case.call_id == claim.call_id)).first()
            if case is None:  # a call that never became a case proves nothing to show
                session.add(AuditEvent(actor=principal.actor, action="authorship.failed", call_id=claim.call_id,
                                       detail={"outcome": "no_case"}))
                return None
            return _record(session, principal, case, now)


def _record(session: Session, principal: Principal, case: Case, now: datetime) -> Verified:
    detail = session.get(CaseDetail, case.id)
    referrals = [
        (row.forwarded_at, dict(row.recipient_names or {}))
        for row in session.scalars(select(CaseReferral).where(CaseReferral.case_id == case.id)
                                   .order_by(CaseReferral.id))
    ]
    fingerprint = report_fingerprint(session, case)
    event = AuditEvent(actor=principal.actor, action="authorship.verified", call_id=case.call_id,
                       detail={"case_id": case.id, "fingerprint": fingerprint}, at=now)
    session.add(event)
    session.flush()
    return Verified(
        case_id=case.id,
        reference=case.reference or "",
        received_at=case.created_at,
        region_code=case.region_code,
        was_anonymous=case.is_anonymous,
        status=case.status,
        referrals=referrals,
        investigation_at=detail.investigation_at if detail else None,
        fingerprint=fingerprint,
        verified_at=now,
        record_id=event.id,
    )


def mark_investigation(session: Session, principal: Principal, case: Case, opened: bool) -> None:
    """Record (supervisors) that a receiving body opened an investigation: retention keeps the proof."""
    if not principal.is_supervisor:
        raise casework.NotAllowed("error.403")
    detail = casework.details_of(session, case)
    if (detail.investigation_at is not None) == opened:
        return
    detail.investigation_at = utc_now() if opened else None
    detail.investigation_by = principal.id if opened else None
    casework.audit(session, principal, "case.investigation_marked" if opened else "case.investigation_unmarked", case)


def keeps_proof(session: Session, case: Case) -> bool:
    """Whether retention keeps this case's authorship proof (reference and PIN hash).

    Cases that led to an investigation, and cases that were forwarded (a body's answer often comes
    after the retention period), keep it; the others lose the PIN hash with the rest.
    """
    detail = session.get(CaseDetail, case.id)
    if detail is not None and detail.investigation_at is not None:
        return True
    return session.scalar(select(CaseReferral.id).where(CaseReferral.case_id == case.id).limit(1)) is not None
