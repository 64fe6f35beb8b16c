"""How far a transcript may be trusted, as people see it, and operators' corrections of it.

The worker's verdict (workers.transcriber.verdict, migration 0007) judges loops, empty text over
speech, missing speech and the model's confidence when the transcript is made. On top of it the
console applies the line's own confidence threshold (IVR_TRANSCRIPT_MIN_CONFIDENCE), so raising
it later also flags transcripts made before. A transcript an operator corrected after listening
is trusted as theirs: it shows who corrected it, and no longer asks to be listened to.

Corrections are versioned: the model's text is kept as version 1, each correction adds one,
all encrypted like the transcript; each is audited (lengths only) and reindexed for search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.cases import search_index
from ivr.cases.casework import Invalid, NotAllowed, audit
from ivr.db import utc_now
from ivr.models import Case, Intake, Operator, Transcript, TranscriptVersion
from ivr.plain_text import UnsafeText, checked_text

DEFAULT_MIN_CONFIDENCE = 0.55
"""The model's mean token probability below which a transcript asks to be listened to (as the worker's)."""
TRANSCRIPT_MAX_CHARS = 20000

# How a transcript reads in the queue and on the case; the worst of a call's transcripts wins.
RELIABLE, NO_SPEECH, UNRELIABLE = "reliable", "no_speech", "unreliable"
RANK = {RELIABLE: 0, NO_SPEECH: 1, UNRELIABLE: 2}
VERDICT_BY_RANK = {rank: label for label, rank in RANK.items()}


def unreliable_condition(min_confidence: float) -> ColumnElement[bool]:
    """SQL: a finished, uncorrected transcript that the verdict or the threshold calls unreliable."""
    return and_(
        Transcript.status == "done",
        Transcript.corrected_at.is_(None),
        or_(Transcript.verdict == UNRELIABLE, Transcript.confidence < min_confidence),
    )


def rank_expression(min_confidence: float) -> Any:
    """SQL: 2 unreliable, 1 no speech, 0 reliable (or corrected), NULL not judged."""
    return case(
        (unreliable_condition(min_confidence), RANK[UNRELIABLE]),
        (and_(Transcript.corrected_at.is_(None), Transcript.verdict == NO_SPEECH), RANK[NO_SPEECH]),
        (Transcript.status == "done", RANK[RELIABLE]),
    )


def worst_rank_by_call(min_confidence: float, call_ids: Any = None) -> Any:
    """A subquery: call_id and the worst rank of its transcripts (join it to Case.call_id).

    `call_ids` (a select of call ids) limits it to those calls, e.g. one page of the queue.
    """
    query = select(Intake.call_id.label("call_id"), func.max(rank_expression(min_confidence)).label("rank")).join(
        Transcript, Transcript.intake_id == Intake.id
    )
    if call_ids is not None:
        query = query.where(Intake.call_id.in_(call_ids))
    return query.group_by(Intake.call_id).subquery()


def has_unreliable_transcript(min_confidence: float) -> ColumnElement[bool]:
    """SQL on Case: one of the call's transcripts asks to be listened to."""
    return Case.call_id.in_(
        select(Intake.call_id).join(Transcript, Transcript.intake_id == Intake.id).where(
            unreliable_condition(min_confidence)
        )
    )


@dataclass(frozen=True)
class Trust:
    """What the case page says about one transcript."""

    label: str | None  # reliable, no_speech, unreliable; None before a verdict exists
    reasons: tuple[str, ...]
    corrected_by: str | None = None

    @property
    def asks_to_listen(self) -> bool:
        """Whether people should listen before trusting the text."""
        return self.label in (UNRELIABLE, NO_SPEECH)


def trust_of(transcript: Transcript, min_confidence: float, corrected_by: str | None = None) -> Trust:
    """The trust label of one transcript, with reasons (i18n codes under verdict.reason.)."""
    if transcript.corrected_at is not None:
        return Trust(RELIABLE, (), corrected_by or "?")
    reasons = list(transcript.verdict_reasons or [])
    label = transcript.verdict
    below = transcript.confidence is not None and transcript.confidence < min_confidence
    if below and "low_confidence" not in reasons:
        reasons.append("low_confidence")
    if below and label in (None, RELIABLE):
        label = UNRELIABLE
    return Trust(label, tuple(reasons))


def versions_of(session: Session, transcript: Transcript) -> list[tuple[TranscriptVersion, str | None]]:
    """Every stored version of a transcript, newest first, with the author's name (None: the model)."""
    rows = session.execute(
        select(TranscriptVersion, Operator.display_name)
        .outerjoin(Operator, Operator.id == TranscriptVersion.author_id)
        .where(TranscriptVersion.transcript_id == transcript.id)
        .order_by(TranscriptVersion.version.desc())
    )
    return [(version, name) for version, name in rows]


def correct(session: Session, principal: Principal, case: Case, transcript: Transcript, text: str) -> bool:
    """Replace a transcript's text with an operator's correction; False if nothing changed.

    The caller has checked that the person may see the case and that the transcript is one of
    its recordings'. The model's text is kept as version 1 the first time.
    """
    if not principal.sees_cases:
        raise NotAllowed("error.403")
    if transcript.status != "done":
        raise Invalid("transcript.not_ready")
    try:
        text = checked_text(text).strip()
    except UnsafeText:
        raise Invalid("form.invalid_text") from None
    if not text:
        raise Invalid("form.required")
    if len(text) > TRANSCRIPT_MAX_CHARS:
        raise Invalid("form.too_long")
    if text == (transcript.text or ""):
        return False
    has_versions = session.scalar(
        select(func.count()).select_from(TranscriptVersion).where(TranscriptVersion.transcript_id == transcript.id)
    )
    if not has_versions:
        session.add(
            TranscriptVersion(
                transcript_id=transcript.id, version=transcript.version or 1, text=transcript.text or "",
                author_id=None, model=transcript.model, created_at=transcript.updated_at or transcript.created_at,
            )
        )
    previous_length = len(transcript.text or "")
    transcript.version = (transcript.version or 1) + 1
    transcript.text = text
    transcript.corrected_by = principal.id
    transcript.corrected_at = utc_now()
    session.add(TranscriptVersion(transcript_id=transcript.id, version=transcript.version, text=text,
                                  author_id=principal.id))
    session.flush()
    search_index.index_transcript(session, transcript, case.id)
    audit(session, principal, "transcript.corrected", case, intake_id=transcript.intake_id,
          version=transcript.version, length_from=previous_length, length_to=len(text))
    return True


def transcript_of_case(session: Session, case: Case, intake_id: int) -> Transcript:
    """The transcript of one of this case's recordings; Invalid when there is none."""
    transcript = session.scalar(
        select(Transcript).join(Intake, Intake.id == Transcript.intake_id).where(
            Intake.id == intake_id, Intake.call_id == case.call_id
        )
    )
    if transcript is None:
        raise Invalid("transcript.not_ready")
    return transcript
