"""The audit trail as people read it: per case, per person, and across the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.cases.case import operator_names
from ivr.cases.queue import iso
from ivr.models import AuditEvent, Case, Intake


@dataclass(frozen=True)
class AuditRow:
    """One audit event as people read it."""

    id: int
    at: datetime
    actor: str
    actor_name: str | None
    action: str
    case_id: int | None
    intake_id: int | None
    detail: dict[str, Any]
    # What people read instead of internal ids: the case's reference (and whether this viewer may
    # open it), which recording of the case (0 the report, n the n-th follow-up), whom it was given to.
    case_reference: str | None = None
    case_openable: bool = False
    recording_number: int | None = None
    assignee_name: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The event as the API returns it."""
        return {
            "id": self.id,
            "at": iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "case_id": self.case_id,
            "case_reference": self.case_reference,
            "intake_id": self.intake_id,
            "detail": self.detail,
        }


def _recording_numbers(session: Session, intake_ids: set[int]) -> dict[int, int]:
    """Which recording of its call each intake is: 0 for the report, n for the n-th follow-up."""
    if not intake_ids:
        return {}
    calls = select(Intake.call_id).where(Intake.id.in_(intake_ids))
    numbers: dict[int, int] = {}
    seen: dict[int, int] = {}
    for intake_id, call_id, kind in session.execute(
        select(Intake.id, Intake.call_id, Intake.kind).where(Intake.call_id.in_(calls)).order_by(Intake.id)
    ):
        if kind == "followup":
            seen[call_id] = seen.get(call_id, 0) + 1
        numbers[intake_id] = seen.get(call_id, 0) if kind == "followup" else 0
    return {intake_id: numbers[intake_id] for intake_id in intake_ids if intake_id in numbers}


def _audit_rows(session: Session, query: Any, viewer: Principal | None = None) -> list[AuditRow]:
    events = list(session.scalars(query))
    operator_ids = [
        int(event.actor.split(":", 1)[1])
        for event in events
        if event.actor.startswith("operator:") and event.actor.split(":", 1)[1].isdigit()
    ]
    assignee_ids = [event.detail["assignee_id"] for event in events
                    if isinstance((event.detail or {}).get("assignee_id"), int)]
    names = operator_names(session, [*operator_ids, *assignee_ids])
    call_ids = {event.call_id for event in events if event.call_id is not None}
    case_ids = {event.detail["case_id"] for event in events if isinstance((event.detail or {}).get("case_id"), int)}
    by_call: dict[int, Case] = {}
    by_id: dict[int, Case] = {}
    if call_ids or case_ids:
        for found in session.scalars(select(Case).where(Case.call_id.in_(call_ids) | Case.id.in_(case_ids))):
            by_call[found.call_id] = by_id[found.id] = found
    recordings = _recording_numbers(session, {event.intake_id for event in events if event.intake_id})
    rows = []
    for event in events:
        actor_id = event.actor.split(":", 1)[1] if event.actor.startswith("operator:") else ""
        detail = dict(event.detail or {})
        case_id, call_id = detail.get("case_id"), event.call_id
        case = (by_id.get(case_id) if isinstance(case_id, int) else None) or (
            by_call.get(call_id) if call_id is not None else None)
        assignee = detail.get("assignee_id")
        rows.append(
            AuditRow(
                id=event.id,
                at=event.at,
                actor=event.actor,
                actor_name=names.get(int(actor_id)) if actor_id.isdigit() else None,
                action=event.action,
                case_id=case.id if case else detail.get("case_id"),
                intake_id=event.intake_id,
                detail=detail,
                case_reference=case.reference if case else None,
                case_openable=bool(case and viewer and viewer.may_see(case)),
                recording_number=recordings.get(event.intake_id) if event.intake_id else None,
                assignee_name=names.get(assignee) if isinstance(assignee, int) else None,
            )
        )
    return rows


def audit_for_case(session: Session, case: Case, *, limit: int = 500,
                   viewer: Principal | None = None) -> list[AuditRow]:
    """Everything that happened to a case, oldest first: the line's, the workers' and people's.

    With a `viewer`, each row says whether that person may open its case (`case_openable`).
    """
    query = select(AuditEvent).where(AuditEvent.call_id == case.call_id).order_by(AuditEvent.id).limit(limit)
    return _audit_rows(session, query, viewer)


def audit_for_actor(session: Session, actor: str, *, limit: int = 500, before_id: int | None = None,
                    viewer: Principal | None = None) -> list[AuditRow]:
    """What one person did, newest first."""
    query = select(AuditEvent).where(AuditEvent.actor == actor)
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    return _audit_rows(session, query.order_by(AuditEvent.id.desc()).limit(limit), viewer)


def recent_audit(session: Session, *, limit: int = 200, before_id: int | None = None,
                 viewer: Principal | None = None) -> list[AuditRow]:
    """People's actions across the console, newest first."""
    query = select(AuditEvent).where(AuditEvent.actor.like("operator:%") | (AuditEvent.actor == "anonymous"))
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    return _audit_rows(session, query.order_by(AuditEvent.id.desc()).limit(limit), viewer)
