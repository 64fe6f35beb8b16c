"""One case as people read it: its call, recordings, transcripts, notes and assignee.

The caller has already checked that the person may see the case (`casework.visible_case`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.models import Call, Case, CaseDetail, CaseNote, Intake, Operator, StoredRecording, Transcript
from ivr.retakes import kept


@dataclass(frozen=True)
class RecordingView:
    """One recording of a case, with what the store and the transcriber made of it."""

    intake: Intake
    stored: StoredRecording | None
    transcript: Transcript | None
    number: int  # 0: the report; 1, 2, ...: follow-ups in order

    @property
    def is_followup(self) -> bool:
        """A recording after the first one of the case."""
        return self.number > 0


@dataclass
class CaseView:
    """Everything the case page shows, loaded in a few queries."""

    case: Case
    call: Call
    detail: CaseDetail | None
    recordings: list[RecordingView]
    notes: list[tuple[CaseNote, str]]
    assignee_name: str | None
    reporter_message_by: str | None = None
    assignable: list[Operator] = field(default_factory=list)

    @property
    def reference_not_heard(self) -> bool:
        """The call ended before the reporter heard the reference and PIN out (issue 11): they may
        not be able to call back, so a named reporter may need to be told another way."""
        call = self.call
        return call.reference is not None and call.status != "in-progress" and call.reference_heard is False


def case_view(session: Session, case: Case) -> CaseView:
    """The case page's data; the caller has checked that the person may see the case."""
    call = session.get_one(Call, case.call_id)
    intakes = list(session.scalars(  # a take the caller recorded again is no part of the report
        select(Intake).where(Intake.call_id == case.call_id, kept()).order_by(Intake.id)))
    ids = [intake.id for intake in intakes]
    stored = {
        row.intake_id: row
        for row in session.scalars(select(StoredRecording).where(StoredRecording.intake_id.in_(ids)))
    }
    transcripts = {
        row.intake_id: row for row in session.scalars(select(Transcript).where(Transcript.intake_id.in_(ids)))
    }
    recordings = [
        RecordingView(intake, stored.get(intake.id), transcripts.get(intake.id), number)
        for number, intake in enumerate(intakes)
    ]
    notes = [
        (note, name or "?")
        for note, name in session.execute(
            select(CaseNote, Operator.display_name)
            .outerjoin(Operator, Operator.id == CaseNote.operator_id)
            .where(CaseNote.case_id == case.id)
            .order_by(CaseNote.id)
        )
    ]
    detail = session.get(CaseDetail, case.id)
    names = operator_names(session, [case.assignee_id, detail.reporter_message_by if detail else None])
    return CaseView(
        case=case,
        call=call,
        detail=detail,
        recordings=recordings,
        notes=notes,
        assignee_name=names.get(case.assignee_id) if case.assignee_id else None,
        reporter_message_by=names.get(detail.reporter_message_by) if detail and detail.reporter_message_by else None,
    )


def operator_names(session: Session, ids: list[int | None]) -> dict[int, str]:
    """Display names of these operator ids."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Operator.id, Operator.display_name).where(Operator.id.in_(wanted)))
    return {operator_id: name for operator_id, name in rows}
