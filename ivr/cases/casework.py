"""What people do to a case: take it, assign it, move its status, classify, note, listen, reveal.

The console and the JSON API both call these functions, so the rules and the audit trail are
the same whichever door a person comes through. Every function assumes the caller already
checked `principal.may_see(case)` (see `visible_case`); each writes one append-only
`AuditEvent` with actor "operator:<id>" and ids, codes and counts in its detail.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.cases import search_index
from ivr.crypto import Cipher
from ivr.db import utc_now
from ivr.intake import contact_context
from ivr.models import CASE_STATUSES, AuditEvent, Call, Case, CaseDetail, CaseNote, Intake, Operator, StoredRecording
from ivr.plain_text import UnsafeText, checked_text

# Allowed moves of an ordinary operator; supervisors may also reopen a closed case.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("in_review", "closed"),
    "in_review": ("forwarded", "closed"),
    "forwarded": ("closed",),
    "closed": (),
}
SUPERVISOR_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "forwarded": ("in_review",),
    "closed": ("in_review",),
}
CLOSE_REASONS = ("referred", "not_corruption", "duplicate", "insufficient", "inquiry_done", "test_call")
CATEGORIES = (
    "bribery", "extortion", "abuse_of_office", "procurement", "embezzlement", "conflict_of_interest", "other",
)  # fmt: skip
NOTE_MAX_CHARS = 4000
REPORTER_MESSAGE_MAX_CHARS = 500
LISTEN_AUDIT_WINDOW = timedelta(minutes=10)
"""A player asks for many byte ranges while it plays and seeks; one audit row per window is enough
to answer "who heard this recording, when" without a row per range request."""
ORIGINAL_GRANT = timedelta(minutes=30)
"""How long a supervisor's explicit unlock of an original voice lasts."""


class CaseHidden(LookupError):
    """No such case, or not one this person may see (both look the same from outside)."""


class NotAllowed(PermissionError):
    """This person may see the case but not do this to it; `code` names the rule (an i18n key)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Invalid(ValueError):
    """The request itself is wrong (an unknown status, a missing reason); `code` is an i18n key."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def visible_case(session: Session, principal: Principal, case_id: int) -> Case:
    """The case, if this person may see it; CaseHidden otherwise (never tells which)."""
    case = session.get(Case, case_id)
    if case is None or not principal.may_see(case):
        raise CaseHidden(case_id)
    return case


def visible_intake(session: Session, principal: Principal, intake_id: int) -> tuple[Case, Intake]:
    """A recording and its case, if this person may see the case; CaseHidden otherwise."""
    intake = session.get(Intake, intake_id)
    if intake is None:
        raise CaseHidden(intake_id)
    case = session.scalars(select(Case).where(Case.call_id == intake.call_id)).first()
    if case is None or not principal.may_see(case):
        raise CaseHidden(intake_id)
    return case, intake


def visible_recording(
    session: Session, principal: Principal, intake_id: int
) -> tuple[Case, Intake, StoredRecording | None]:
    """As visible_intake, with the stored audio (None until the workers have stored it)."""
    case, intake = visible_intake(session, principal, intake_id)
    stored = session.scalars(select(StoredRecording).where(StoredRecording.intake_id == intake.id)).first()
    return case, intake, stored


def audit(
    session: Session, principal: Principal, action: str, case: Case, *, intake_id: int | None = None, **detail: Any
) -> None:
    """Append one audit event about a case."""
    session.add(
        AuditEvent(
            actor=principal.actor,
            action=action,
            call_id=case.call_id,
            intake_id=intake_id,
            detail={"case_id": case.id, **detail},
        )
    )


def details_of(session: Session, case: Case) -> CaseDetail:
    """The operator-side details row of a case, created on first use."""
    detail = session.get(CaseDetail, case.id)
    if detail is None:
        detail = CaseDetail(case_id=case.id)
        session.add(detail)
        session.flush()
    return detail


def _handled(session: Session, case: Case) -> None:
    """The first time anyone acts on a case ends its wait (for the waiting-time figures)."""
    detail = details_of(session, case)
    if detail.first_handled_at is None:
        detail.first_handled_at = utc_now()


def claim(session: Session, principal: Principal, case: Case) -> None:
    """Take the case: it is yours, and a new case moves to in review."""
    if not principal.sees_cases:
        raise NotAllowed("error.403")
    if case.assignee_id not in (None, principal.id) and not principal.is_supervisor:
        raise NotAllowed("case.bad_assignee")
    previous = case.status
    case.assignee_id = principal.id
    if case.status == "new":
        case.status = "in_review"
    _handled(session, case)
    audit(session, principal, "case.claimed", case, status_from=previous, status_to=case.status)


def assignable_operators(session: Session, case: Case) -> list[Operator]:
    """Active people who could work on this case: supervisors, and operators of its region."""
    rows = session.scalars(
        select(Operator)
        .where(Operator.is_active.is_(True), Operator.role.in_(("operator", "supervisor")))
        .order_by(Operator.display_name)
    )
    return [row for row in rows if Principal.of(row).may_see(case)]


def assign(session: Session, principal: Principal, case: Case, assignee_id: int | None) -> None:
    """Give the case to someone (supervisors only); they must be able to see it."""
    if not principal.is_supervisor:
        raise NotAllowed("error.403")
    if assignee_id is not None:
        assignee = session.get(Operator, assignee_id)
        if assignee is None or not assignee.is_active or not Principal.of(assignee).may_see(case):
            raise Invalid("case.bad_assignee")
    previous = case.assignee_id
    if previous == assignee_id:
        return
    case.assignee_id = assignee_id
    _handled(session, case)
    audit(session, principal, "case.assigned", case, assignee_id=assignee_id, previous_assignee_id=previous)


def allowed_statuses(principal: Principal, case: Case) -> tuple[str, ...]:
    """The statuses this person may move the case to now."""
    allowed = TRANSITIONS.get(case.status, ())
    if principal.is_supervisor:
        allowed = allowed + SUPERVISOR_TRANSITIONS.get(case.status, ())
    return allowed


def change_status(session: Session, principal: Principal, case: Case, status: str, reason: str | None = None,
                  *, recipient: str | None = None, duplicate_of: Case | None = None) -> None:
    """Move the case along new -> in review -> forwarded -> closed; closing needs a reason.

    Forwarding goes through `ivr.cases.referrals.forward`, which names the receiving body here.
    """
    if status not in CASE_STATUSES:
        raise Invalid("case.bad_transition")
    if status == case.status:
        return  # the status form saved as it stands (it shows the current status): nothing to change
    if status not in allowed_statuses(principal, case):
        raise Invalid("case.bad_transition")
    if status == "closed" and reason not in CLOSE_REASONS:
        raise Invalid("case.reason_required")
    if status == "forwarded" and not recipient:
        raise Invalid("referral.recipient_required")
    if status == "closed" and reason == "duplicate" and duplicate_of is None:
        raise Invalid("links.duplicate_needs_original")  # ivr.cases.links.close_as_duplicate names it
    if case.assignee_id not in (None, principal.id) and not principal.is_supervisor:
        raise NotAllowed("case.bad_assignee")
    previous = case.status
    case.status = status
    if case.assignee_id is None:
        case.assignee_id = principal.id  # whoever moves a case has taken it
    detail = details_of(session, case)
    detail.status_reason = reason if status == "closed" else None
    is_duplicate = status == "closed" and reason == "duplicate" and duplicate_of is not None
    detail.duplicate_of_case_id = duplicate_of.id if is_duplicate and duplicate_of else None
    _handled(session, case)
    extra: dict[str, Any] = {}
    if recipient:
        extra["recipient"] = recipient
    if is_duplicate and duplicate_of:
        extra["duplicate_of"] = duplicate_of.id
    audit(session, principal, "case.status_changed", case, status_from=previous, status_to=status,
          reason=reason if status == "closed" else None, **extra)


def set_category(session: Session, principal: Principal, case: Case, category: str | None) -> None:
    """Classify the case (or clear the category)."""
    category = category or None
    if category is not None and category not in CATEGORIES:
        raise Invalid("form.required")
    if case.category == category:
        return
    previous = case.category
    case.category = category
    audit(session, principal, "case.category_changed", case, category_from=previous, category_to=category)


def set_region(session: Session, principal: Principal, case: Case, region_code: str | None,
               known_regions: set[str]) -> None:
    """Route a case to a region (supervisors only): callers may not have named one."""
    if not principal.is_supervisor:
        raise NotAllowed("error.403")
    region_code = region_code or None
    if region_code is not None and region_code not in known_regions:
        raise Invalid("form.required")
    if case.region_code == region_code:
        return
    previous = case.region_code
    case.region_code = region_code
    audit(session, principal, "case.region_changed", case, region_from=previous, region_to=region_code)


def add_note(session: Session, principal: Principal, case: Case, text: str) -> CaseNote:
    """Add a note; notes are never edited or removed."""
    text = _plain(text)
    if not text:
        raise Invalid("form.required")
    if len(text) > NOTE_MAX_CHARS:
        raise Invalid("form.too_long")
    note = CaseNote(case_id=case.id, operator_id=principal.id, text=text)
    session.add(note)
    session.flush()
    search_index.index_note(session, note)
    _handled(session, case)
    audit(session, principal, "case.note_added", case, note_id=note.id)
    return note


def _plain(text: str) -> str:
    """Operators' text without control characters (they break TwiML and PostgreSQL); Invalid if unusable."""
    try:
        return checked_text(text).strip()
    except UnsafeText:
        raise Invalid("form.invalid_text") from None


def set_reporter_message(session: Session, principal: Principal, case: Case, text: str) -> None:
    """The short message the caller hears when calling back with reference and PIN."""
    text = _plain(text)
    if len(text) > REPORTER_MESSAGE_MAX_CHARS:
        raise Invalid("form.too_long")
    detail = details_of(session, case)
    if (detail.reporter_message or "") == text:
        return
    detail.reporter_message = text or None
    detail.reporter_message_at = utc_now()
    detail.reporter_message_by = principal.id
    audit(session, principal, "case.reporter_message_set", case, length=len(text))


def reveal_contact(session: Session, principal: Principal, case: Case, cipher: Cipher) -> str | None:
    """The named caller's contact, decrypted for this view and audited; None for anonymous reports.

    An anonymous report never has a contact; the check on both the case and the call is the
    backstop should a row ever say otherwise.
    """
    call = session.get_one(Call, case.call_id)
    if case.is_anonymous or call.is_anonymous or call.contact_ciphertext is None:
        return None
    contact = cipher.decrypt(call.contact_ciphertext, context=contact_context(call.call_sid)).decode()
    audit(session, principal, "contact.viewed", case)
    return contact


def unlock_original(session: Session, principal: Principal, case: Case, intake: Intake) -> None:
    """A supervisor's explicit, audited choice to hear an anonymous caller's own voice."""
    if not principal.is_supervisor:
        raise NotAllowed("error.403")
    audit(session, principal, "recording.original_unlocked", case, intake_id=intake.id)


def record_listen(session: Session, principal: Principal, case: Case, intake: Intake, version: str,
                  *, action: str = "recording.listened") -> bool:
    """Audit that this person heard this recording; one row per person, recording, version and window.

    `recording.listened` when the console's player starts playing; `recording.fetched` for every
    download of the audio (a player buffering, or the file fetched outside the console), so no
    access goes unrecorded while opening a case records nobody as having listened.
    """
    since = utc_now() - LISTEN_AUDIT_WINDOW
    already = session.scalar(
        select(
            exists().where(
                AuditEvent.actor == principal.actor,
                AuditEvent.action == action,
                AuditEvent.intake_id == intake.id,
                AuditEvent.at >= since,
            )
        )
    )
    if already:
        # The window is per version too: the original after the disguised one is its own event.
        rows: list[dict[str, Any]] = list(session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.actor == principal.actor,
                AuditEvent.action == action,
                AuditEvent.intake_id == intake.id,
                AuditEvent.at >= since,
            )
        ))
        if any(row.get("version") == version for row in rows):
            return False
    audit(session, principal, action, case, intake_id=intake.id, version=version)
    return True


def mark_seen(session: Session, principal: Principal, case: Case) -> None:
    """The assignee has opened the case since its follow-up arrived: the badge goes."""
    if case.has_new_info and case.assignee_id == principal.id:
        case.has_new_info = False
