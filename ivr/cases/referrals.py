"""Forwarding a case to a receiving body, and the referral package that goes with it (issue 13.4).

Forwarding records which body (config/recipients.yaml) receives the case; the package is a PDF
made on demand from the case as it is then (never stored, so no plaintext copy sits on disk):
summary, transcripts, notes, the messages with the reporter, linked cases and the audit trail.
The reporter's identity (the contact a named caller chose to leave) goes in only when a
supervisor ticks it on the referral; ticking, unticking and every download are audited.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.cases import casework, thread
from ivr.cases.audit import AuditRow, audit_for_case
from ivr.cases.case import CaseView, case_view, operator_names
from ivr.cases.recipients import Recipient
from ivr.crypto import Cipher
from ivr.db import utc_now
from ivr.intake import contact_context
from ivr.models import Call, Case, CaseReferral, StoredRecording


def forward(
    session: Session, principal: Principal, case: Case, recipient: Recipient | None, *, include_identity: bool = False
) -> CaseReferral:
    """Set the case to forwarded, naming the receiving body; a supervisor may include the reporter's identity."""
    if recipient is None:
        raise casework.Invalid("referral.recipient_required")
    if include_identity and not principal.is_supervisor:
        raise casework.NotAllowed("referral.identity_supervisors_only")
    if include_identity and not has_identity(session, case):
        raise casework.Invalid("referral.no_identity")  # refused before anything changes (the view commits)
    casework.change_status(session, principal, case, "forwarded", recipient=recipient.code)
    referral = CaseReferral(
        case_id=case.id,
        recipient_code=recipient.code,
        recipient_names=recipient.names.model_dump(),
        forwarded_by=principal.id,
        forwarded_at=utc_now(),
        include_identity=False,
    )
    session.add(referral)
    session.flush()
    casework.audit(session, principal, "referral.created", case, referral_id=referral.id, recipient=recipient.code)
    if include_identity:
        set_identity(session, principal, case, referral, True)
    return referral


def has_identity(session: Session, case: Case) -> bool:
    """Whether the case has a reporter's identity that a package could carry: a named caller's contact."""
    call = session.get_one(Call, case.call_id)
    return not (case.is_anonymous or call.is_anonymous or call.contact_ciphertext is None)


def set_identity(session: Session, principal: Principal, case: Case, referral: CaseReferral, include: bool) -> None:
    """A supervisor's explicit, audited choice to put the named reporter's contact in this referral's package."""
    if not principal.is_supervisor:
        raise casework.NotAllowed("referral.identity_supervisors_only")
    if include and not has_identity(session, case):
        raise casework.Invalid("referral.no_identity")
    if referral.include_identity == include:
        return
    referral.include_identity = include
    referral.identity_set_by = principal.id
    referral.identity_set_at = utc_now()
    action = "referral.identity_included" if include else "referral.identity_excluded"
    casework.audit(session, principal, action, case, referral_id=referral.id)


def referral_of(session: Session, case: Case, referral_id: int) -> CaseReferral:
    """One referral of this case; CaseHidden when it belongs to another case."""
    referral = session.get(CaseReferral, referral_id)
    if referral is None or referral.case_id != case.id:
        raise casework.CaseHidden(referral_id)
    return referral


def referrals_of(session: Session, case: Case) -> list[CaseReferral]:
    """The case's referrals, oldest first (a case forwarded again after review has several)."""
    return list(session.scalars(select(CaseReferral).where(CaseReferral.case_id == case.id).order_by(CaseReferral.id)))


@dataclass(frozen=True)
class PackageMessage:
    """One message between the line and the reporter, as the package prints it."""

    at: datetime | None
    author: str | None  # the operator's name; None for the reporter
    language: str | None
    text: str
    voice_s: float | None = None  # an operator's recorded voice message (no text): its length


@dataclass
class ReferralPackage:
    """Everything the referral PDF prints, gathered under one transaction."""

    case: Case
    view: CaseView
    referral: CaseReferral
    forwarded_by: str
    generated_by: str
    generated_at: datetime
    fingerprint: str
    identity: str | None
    thread: list[PackageMessage]
    audit: list[AuditRow]
    links: list[tuple[str, str]] = field(default_factory=list)  # (kind, reference) of linked cases
    duplicate_of: str | None = None


def report_fingerprint(session: Session, case: Case) -> str:
    """SHA-256 over the case's recordings' own SHA-256s: names the report's content, reveals none of it.

    The recordings' checksums outlive retention (the rows stay when the audio goes), so the same
    fingerprint is printed on the referral package and shown when authorship is verified years later.
    """
    from ivr.models import Intake

    rows = session.execute(
        select(StoredRecording.intake_id, StoredRecording.sha256)
        .join(Intake, Intake.id == StoredRecording.intake_id)
        .where(Intake.call_id == case.call_id)
        .order_by(StoredRecording.intake_id)
    ).all()
    digest = hashlib.sha256()
    for intake_id, sha256 in rows:
        digest.update(f"{intake_id}:{sha256}\n".encode())
    return digest.hexdigest()


def reporter_thread(session: Session, case: Case) -> list[PackageMessage]:
    """The messages with the reporter, in order (the case's thread; an answer follows the message it answers)."""
    items: list[PackageMessage] = []

    def walk(entries: list[Any]) -> None:
        for entry in entries:
            message = entry.message
            if entry.is_to_reporter:
                voice_s = message.audio_duration_s if message.audio_key and not message.text else None
                items.append(PackageMessage(message.created_at, entry.author or "?", message.language,
                                            message.text or "", voice_s))
            else:
                transcript = entry.transcript
                text = transcript.text if transcript is not None and transcript.text else "—"
                items.append(PackageMessage(message.created_at, None, message.language, text))
            walk(entry.replies)

    walk(thread.thread_of(session, case))
    return items


def package(
    session: Session, principal: Principal, case: Case, referral: CaseReferral, cipher: Cipher,
    *, links: list[tuple[str, str]] | None = None, duplicate_of: str | None = None,
) -> ReferralPackage:
    """Gather the package of one referral and audit the download (with whether it named the reporter)."""
    identity = None
    if referral.include_identity and has_identity(session, case):
        call = session.get_one(Call, case.call_id)
        assert call.contact_ciphertext is not None
        identity = cipher.decrypt(call.contact_ciphertext, context=contact_context(call.call_sid)).decode()
    names = operator_names(session, [referral.forwarded_by, principal.id])
    casework.audit(session, principal, "referral.downloaded", case, referral_id=referral.id,
                   identity_included=identity is not None)
    session.flush()
    return ReferralPackage(
        case=case,
        view=case_view(session, case),
        referral=referral,
        forwarded_by=names.get(referral.forwarded_by, "?"),
        generated_by=names.get(principal.id, principal.display_name),
        generated_at=utc_now(),
        fingerprint=report_fingerprint(session, case),
        identity=identity,
        thread=reporter_thread(session, case),
        audit=audit_for_case(session, case, limit=2000),
        links=links or [],
        duplicate_of=duplicate_of,
    )


def recipient_name(referral: CaseReferral, language: str) -> str:
    """The body's name as copied at forwarding, in this language."""
    names: dict[str, Any] = referral.recipient_names or {}
    return str(names.get(language) or names.get("ru") or referral.recipient_code)
