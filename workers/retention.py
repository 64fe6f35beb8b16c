"""Retention: closed cases older than the retention period lose recordings, transcripts and contacts.

Their PIN hash goes too, unless the case led to an investigation or was forwarded: then its
reference and PIN hash stay, so the reporter can still prove authorship (ivr.cases.authorship).

What goes: the encrypted audio (original and disguised), the transcript rows, and the
caller's encrypted contact. What stays: the case row (status, category, region, dates) and the
audit trail, so statistics and the record of what was done survive. Each removal writes an
audit event; a dry run lists what would go and touches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from ivr.cases import authorship, search_index
from ivr.cases.opening import record_event
from ivr.db import utc_now
from ivr.logging import get_logger
from ivr.models import Call, Case, Intake, StoredRecording, ThreadMessage, Transcript, TranscriptVersion
from ivr.storage import RecordingStore
from workers.deps import worker_deps

log = get_logger(__name__)


@dataclass
class RetentionReport:
    """Case ids purged (or that would be, in a dry run) and how much went with them."""

    dry_run: bool
    cases: list[int] = field(default_factory=list)
    recordings: int = 0  # stored files (originals and disguised copies)
    transcripts: int = 0
    contacts: int = 0
    pins: int = 0  # PIN hashes removed: the reference proves nothing any more
    proofs_kept: int = 0  # cases that led to an investigation or were forwarded keep reference and PIN hash


def apply_retention(
    sessions: sessionmaker[Session],
    store: RecordingStore,
    *,
    days: int,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RetentionReport:
    """Purge closed cases untouched for `days`; `dry_run` only reports. Safe to repeat."""
    cutoff = (now or utc_now()) - timedelta(days=days)
    report = RetentionReport(dry_run=dry_run)
    with sessions() as session:
        case_ids = list(
            session.scalars(
                select(Case.id)
                .where(
                    Case.status == "closed",
                    Case.purged_at.is_(None),
                    Case.has_new_info.is_(False),  # a recording came after closing: a person looks first
                    Case.updated_at < cutoff,
                )
                .order_by(Case.id)
            )
        )
    for case_id in case_ids:
        _purge_case(sessions, store, case_id, report)
    log.info(
        "retention.finished", dry_run=dry_run, cases=len(report.cases), recordings=report.recordings,
        transcripts=report.transcripts, contacts=report.contacts, pins=report.pins, proofs_kept=report.proofs_kept,
    )
    return report


def _purge_case(
    sessions: sessionmaker[Session], store: RecordingStore, case_id: int, report: RetentionReport
) -> None:
    with sessions.begin() as session:
        case = session.get_one(Case, case_id)
        call = session.get_one(Call, case.call_id)
        intake_ids = list(session.scalars(select(Intake.id).where(Intake.call_id == call.id)))
        stored = list(
            session.scalars(
                select(StoredRecording).where(
                    StoredRecording.intake_id.in_(intake_ids), StoredRecording.purged_at.is_(None)
                )
            )
        )
        transcripts = list(session.scalars(select(Transcript).where(Transcript.intake_id.in_(intake_ids))))
        # The thread with the reporter: its messages' text and audio go; who wrote when, and heard when, stay.
        thread = list(session.scalars(select(ThreadMessage).where(
            ThreadMessage.call_id == call.id,
            (ThreadMessage.text.isnot(None)) | (ThreadMessage.audio_key.isnot(None)))))
        has_contact = call.contact_ciphertext is not None
        keeps_proof = authorship.keeps_proof(session, case)
        drops_pin = not keeps_proof and call.pin_hash is not None
        report.cases.append(case_id)
        report.pins += int(drops_pin)
        report.proofs_kept += int(keeps_proof)
        report.recordings += sum(1 + (row.disguised_key is not None) for row in stored)
        report.transcripts += len(transcripts)
        report.contacts += int(has_contact)
        if report.dry_run:
            session.rollback()
            return
        # Files first: if we die here, the rows still point at what is left and a rerun finishes.
        for row in stored:
            for key in filter(None, (row.storage_key, row.disguised_key)):
                store.delete(key)
            row.purged_at = utc_now()
            record_event(session, "recording.purged", call_id=call.id, intake_id=row.intake_id, case_id=case_id)
        for transcript in transcripts:
            record_event(
                session, "transcript.purged", call_id=call.id, intake_id=transcript.intake_id, case_id=case_id
            )
        for message in thread:
            if message.audio_key:
                store.delete(message.audio_key)
            message.text, message.audio_key = None, None
        if thread:
            record_event(session, "thread.purged", call_id=call.id, case_id=case_id, messages=len(thread))
        transcript_ids = [transcript.id for transcript in transcripts]
        search_index.forget_transcripts(session, transcript_ids)
        if transcript_ids:
            session.execute(delete(TranscriptVersion).where(TranscriptVersion.transcript_id.in_(transcript_ids)))
        session.execute(delete(Transcript).where(Transcript.intake_id.in_(intake_ids)))
        if has_contact:
            call.contact_ciphertext = None
            record_event(session, "contact.purged", call_id=call.id, case_id=case_id)
        # Proof of authorship (README): kept where an investigation needs it, gone with the rest elsewhere.
        if drops_pin:
            call.pin_hash = None
            call.pending_pin_ciphertext = None
            record_event(session, "authorship.purged", call_id=call.id, case_id=case_id)
        elif keeps_proof:
            record_event(session, "authorship.kept", call_id=call.id, case_id=case_id)
        case.purged_at = utc_now()
        case.transcript_status = "none"
        record_event(
            session, "case.purged", call_id=call.id, case_id=case_id,
            recordings=len(stored), transcripts=len(transcripts),
        )


def run_retention(dry_run: bool = False) -> RetentionReport:
    """Apply the configured retention period (a job, or `ivr retention`)."""
    deps = worker_deps()
    return apply_retention(deps.sessions, deps.store, days=deps.settings.retention_days, dry_run=dry_run)
