"""The audit trail as people read it: per case, per person, and across the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.cases.case import operator_names
from ivr.cases.queue import iso
from ivr.models import AuditEvent, Case


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

    def as_json(self) -> dict[str, Any]:
        """The event as the API returns it."""
        return {
            "id": self.id,
            "at": iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "case_id": self.case_id,
            "intake_id": self.intake_id,
            "detail": self.detail,
        }


def _audit_rows(session: Session, query: Any) -> list[AuditRow]:
    events = list(session.scalars(query))
    operator_ids = [
        int(event.actor.split(":", 1)[1])
        for event in events
        if event.actor.startswith("operator:") and event.actor.split(":", 1)[1].isdigit()
    ]
    names = operator_names(session, list(operator_ids))
    call_ids = {event.call_id for event in events if event.call_id is not None}
    cases: dict[int, int] = {}
    if call_ids:
        cases = {call_id: case_id for call_id, case_id in session.execute(
            select(Case.call_id, Case.id).where(Case.call_id.in_(call_ids))
        )}
    rows = []
    for event in events:
        actor_id = event.actor.split(":", 1)[1] if event.actor.startswith("operator:") else ""
        detail = dict(event.detail or {})
        rows.append(
            AuditRow(
                id=event.id,
                at=event.at,
                actor=event.actor,
                actor_name=names.get(int(actor_id)) if actor_id.isdigit() else None,
                action=event.action,
                case_id=detail.get("case_id") or cases.get(event.call_id),
                intake_id=event.intake_id,
                detail=detail,
            )
        )
    return rows


def audit_for_case(session: Session, case: Case, *, limit: int = 500) -> list[AuditRow]:
    """Everything that happened to a case, oldest first: the line's, the workers' and people's."""
    query = select(AuditEvent).where(AuditEvent.call_id == case.call_id).order_by(AuditEvent.id).limit(limit)
    return _audit_rows(session, query)


def audit_for_actor(session: Session, actor: str, *, limit: int = 500, before_id: int | None = None) -> list[AuditRow]:
    """What one person did, newest first."""
    query = select(AuditEvent).where(AuditEvent.actor == actor)
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    return _audit_rows(session, query.order_by(AuditEvent.id.desc()).limit(limit))


def recent_audit(session: Session, *, limit: int = 200, before_id: int | None = None) -> list[AuditRow]:
    """People's actions across the console, newest first."""
    query = select(AuditEvent).where(AuditEvent.actor.like("operator:%") | (AuditEvent.actor == "anonymous"))
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    return _audit_rows(session, query.order_by(AuditEvent.id.desc()).limit(limit))
