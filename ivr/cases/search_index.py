"""The blind index of report text: keyed terms per transcript and note (ivr.search_terms).

Written in the same transaction as the text it indexes: when a transcript is stored or
corrected (workers, `transcripts.correct`), when a note is added (`casework.add_note`), and
rebuilt whole by `ivr cases reindex` (after `ivr keys rotate`, or after migration 0010).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from ivr.models import Case, CaseNote, Intake, SearchTerm, Transcript
from ivr.search_terms import TermKeys, term_keys_of

TRANSCRIPT = "t"
NOTE = "n"
BATCH = 500


def _replace(session: Session, keys: TermKeys, case_id: int, source: str, source_id: int, text: str | None) -> int:
    session.execute(delete(SearchTerm).where(SearchTerm.source == source, SearchTerm.source_id == source_id))
    terms = keys.terms_of_text(text) if text else set()
    if terms:
        session.execute(
            insert(SearchTerm),
            [
                {"term": term, "case_id": case_id, "source": source, "source_id": source_id,
                 "key_id": keys.current_key_id}
                for term in terms
            ],
        )
    return len(terms)


def index_transcript(session: Session, transcript: Transcript, case_id: int | None = None) -> int:
    """(Re)index a transcript's current text; its case is found from the intake when not given.

    Returns the number of terms stored; 0 when the call has no case yet (opening it indexes).
    """
    if case_id is None:
        case_id = session.scalar(
            select(Case.id).join(Intake, Intake.call_id == Case.call_id).where(Intake.id == transcript.intake_id)
        )
        if case_id is None:
            return 0
    text = transcript.text if transcript.status == "done" else None
    return _replace(session, term_keys_of(session), case_id, TRANSCRIPT, transcript.id, text)


def index_note(session: Session, note: CaseNote) -> int:
    """Index a note (notes never change, so this runs once per note, and again on reindex)."""
    return _replace(session, term_keys_of(session), note.case_id, NOTE, note.id, note.text)


def forget_transcripts(session: Session, transcript_ids: list[int]) -> None:
    """Drop the terms of transcripts that are being deleted (retention)."""
    if transcript_ids:
        session.execute(
            delete(SearchTerm).where(SearchTerm.source == TRANSCRIPT, SearchTerm.source_id.in_(transcript_ids))
        )


@dataclass
class ReindexReport:
    """What `reindex` did."""

    key_id: str
    transcripts: int = 0
    notes: int = 0
    terms: int = 0
    stale_removed: int = 0


def reindex(sessions: sessionmaker[Session], *, progress: Callable[[], None] | None = None) -> ReindexReport:
    """Rebuild every text's terms under the current key, in batches; safe to stop and run again.

    Each batch is its own transaction, and terms of a text are replaced whole, so a run killed
    half-way leaves some texts under the old key (still found: searches try every key) and the
    next run redoes them all. Terms of texts that no longer exist are removed at the end.
    """
    with sessions() as session:
        keys = term_keys_of(session)
    report = ReindexReport(key_id=keys.current_key_id)
    case_of_call = select(Case.id).where(Case.call_id == Intake.call_id).correlate(Intake).scalar_subquery()
    last = 0
    while True:
        with sessions.begin() as session:
            rows: Sequence[Any] = session.execute(
                select(Transcript, case_of_call)
                .join(Intake, Intake.id == Transcript.intake_id)
                .where(Transcript.id > last)
                .order_by(Transcript.id)
                .limit(BATCH)
            ).all()
            for transcript, case_id in rows:
                if case_id is not None:
                    report.terms += index_transcript(session, transcript, case_id)
                    report.transcripts += 1
                if progress:
                    progress()
            last = rows[-1][0].id if rows else last
        if len(rows) < BATCH:
            break
    last = 0
    while True:
        with sessions.begin() as session:
            notes = list(session.scalars(select(CaseNote).where(CaseNote.id > last).order_by(CaseNote.id).limit(BATCH)))
            for note in notes:
                report.terms += index_note(session, note)
                report.notes += 1
                if progress:
                    progress()
            last = notes[-1].id if notes else last
        if len(notes) < BATCH:
            break
    with sessions.begin() as session:
        orphan_t = delete(SearchTerm).where(
            SearchTerm.source == TRANSCRIPT, SearchTerm.source_id.not_in(select(Transcript.id))
        )
        orphan_n = delete(SearchTerm).where(SearchTerm.source == NOTE, SearchTerm.source_id.not_in(select(CaseNote.id)))
        report.stale_removed = session.execute(orphan_t).rowcount + session.execute(orphan_n).rowcount  # type: ignore[attr-defined]
    return report


def texts_to_index(sessions: sessionmaker[Session]) -> int:
    """How many texts a reindex visits (for its progress bar)."""
    with sessions() as session:
        transcripts = session.scalar(select(func.count()).select_from(Transcript)) or 0
        notes = session.scalar(select(func.count()).select_from(CaseNote)) or 0
    return int(transcripts) + int(notes)
