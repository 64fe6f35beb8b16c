"""Linked cases (issue 13.5): duplicates and related reports, seen together, closed one into the other.

A link joins two cases both ways (one row per pair) and is audited on both. The region rules
hold: a person links only cases they may open both of, and sees only the linked cases they may
open (with a count of the others). Closing a case as a duplicate names the case that carries
on; a follow-up the reporter later leaves on the closed one flags that case too, so its
operators hear of it (`followup_on_duplicate`, called where follow-ups join cases).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.cases import casework
from ivr.cases.opening import record_event
from ivr.models import CASE_LINK_KINDS, AuditEvent, Case, CaseDetail, CaseLink, Intake


@dataclass(frozen=True)
class LinkedCase:
    """A case linked to the one on screen, and how."""

    case: Case
    kind: str
    link_id: int


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def find_case(session: Session, principal: Principal, key: str) -> Case:
    """A case by its reference (or its number, as the console shows it), if this person may open it."""
    key = (key or "").strip()
    if not key.isdigit():
        raise casework.Invalid("links.not_found")
    case = session.scalars(select(Case).where(Case.reference == key)).first()
    if case is None and len(key) < 8:
        case = session.get(Case, int(key))
    if case is None or not principal.may_see(case):
        raise casework.Invalid("links.not_found")  # a case of another region looks like no case
    return case


def link(session: Session, principal: Principal, case: Case, other: Case, kind: str) -> CaseLink:
    """Mark two cases as duplicates or related (both must be open to this person); audited on both."""
    if kind not in CASE_LINK_KINDS:
        raise casework.Invalid("form.required")
    if other.id == case.id:
        raise casework.Invalid("links.self")
    if not (principal.may_see(case) and principal.may_see(other)):
        raise casework.Invalid("links.not_found")
    low, high = _pair(case.id, other.id)
    row = session.scalars(select(CaseLink).where(CaseLink.case_id == low, CaseLink.linked_case_id == high)).first()
    if row is not None:
        if row.kind != kind:
            previous, row.kind = row.kind, kind
            for this, that in ((case, other), (other, case)):
                casework.audit(session, principal, "case.link_changed", this, linked_case_id=that.id,
                               kind=kind, kind_from=previous)
        return row
    row = CaseLink(case_id=low, linked_case_id=high, kind=kind, created_by=principal.id)
    session.add(row)
    session.flush()
    for this, that in ((case, other), (other, case)):
        casework.audit(session, principal, "case.linked", this, linked_case_id=that.id, kind=kind)
    return row


def unlink(session: Session, principal: Principal, case: Case, other_id: int) -> None:
    """Remove a link; the person must be able to open both cases. Audited on both."""
    other = session.get(Case, other_id)
    if other is None or not principal.may_see(other):
        raise casework.Invalid("links.not_found")
    detail = session.get(CaseDetail, case.id)
    other_detail = session.get(CaseDetail, other.id)
    if (detail and detail.duplicate_of_case_id == other.id) or (
        other_detail and other_detail.duplicate_of_case_id == case.id
    ):
        raise casework.Invalid("links.closed_duplicate")  # reopen the duplicate first
    low, high = _pair(case.id, other.id)
    row = session.scalars(select(CaseLink).where(CaseLink.case_id == low, CaseLink.linked_case_id == high)).first()
    if row is None:
        return
    session.delete(row)
    for this, that in ((case, other), (other, case)):
        casework.audit(session, principal, "case.unlinked", this, linked_case_id=that.id, kind=row.kind)


def linked_cases(session: Session, principal: Principal, case: Case) -> tuple[list[LinkedCase], int]:
    """The linked cases this person may open, by case number, and how many others they may not."""
    rows = list(session.scalars(
        select(CaseLink).where(or_(CaseLink.case_id == case.id, CaseLink.linked_case_id == case.id))
    ))
    visible: list[LinkedCase] = []
    hidden = 0
    for row in rows:
        other = session.get_one(Case, row.linked_case_id if row.case_id == case.id else row.case_id)
        if principal.may_see(other):
            visible.append(LinkedCase(other, row.kind, row.id))
        else:
            hidden += 1
    visible.sort(key=lambda linked: linked.case.id)
    return visible, hidden


def close_as_duplicate(session: Session, principal: Principal, case: Case, original: Case) -> None:
    """Close `case` as a duplicate of `original` (linking them as duplicates if they were not)."""
    if original.id == case.id:
        raise casework.Invalid("links.self")
    if not principal.may_see(original):
        raise casework.Invalid("links.not_found")
    original_detail = session.get(CaseDetail, original.id)
    if original_detail is not None and original_detail.duplicate_of_case_id is not None:
        raise casework.Invalid("links.original_is_duplicate")  # point at the case that carries on
    # The status first: a refused move must leave no link behind (the console commits what was done).
    casework.change_status(session, principal, case, "closed", "duplicate", duplicate_of=original)
    link(session, principal, case, original, "duplicate")


def duplicate_of(session: Session, case: Case) -> Case | None:
    """The case this one was closed into, if it was closed as a duplicate."""
    detail = session.get(CaseDetail, case.id)
    if detail is None or detail.duplicate_of_case_id is None:
        return None
    return session.get(Case, detail.duplicate_of_case_id)


def followup_on_duplicate(session: Session, case: Case, intake: Intake) -> Case | None:
    """A reporter's follow-up joined a case closed as a duplicate: flag the case that carries on.

    The recording stays on its own case (the reporter's reference and audit trail are there); the
    open case gets the "new information" badge and an audit event naming both, so its operators
    see it in the queue and in the merged view. Idempotent per intake.
    """
    original = duplicate_of(session, case)
    if original is None:
        return None
    already = session.scalar(
        select(AuditEvent.id).where(
            AuditEvent.action == "case.followup_on_duplicate",
            AuditEvent.intake_id == intake.id,
        ).limit(1)
    )
    if already is None:
        original.has_new_info = True
        record_event(session, "case.followup_on_duplicate", call_id=original.call_id, intake_id=intake.id,
                     case_id=original.id, duplicate_case_id=case.id)
    return original
