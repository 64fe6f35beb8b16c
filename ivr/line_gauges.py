"""The line's state as Prometheus gauges, read from the database at scrape time.

Workers run no HTTP server, so what they leave behind (stuck or failed intakes, recovered
recordings, failed transcripts, urgent cases nobody took) is read here, from the one source of
truth, by whichever web process Prometheus scrapes. The alert rules in deploy/prometheus/ name
these gauges; keep the two in step. Every value is a count or an age: no ids, no caller data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from ivr.models import DONE, FAILED, PENDING, Case, Intake

Gauges = dict[str, tuple[str, float]]

# Intakes still on their way to a case: pending (not on the queue), queued or processing.
_IN_FLIGHT = (Intake.status != DONE, Intake.status != FAILED)


def _age_s(oldest: datetime | None, now: datetime) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite returns naive UTC
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())


HELP = {
    "ivr_intakes_pending": "Intakes not yet on the queue.",
    "ivr_intakes_failed": "Intakes whose retries ran out: a person must look (ivr intake retry).",
    "ivr_intake_oldest_in_flight_seconds": "Age of the oldest recording not yet a case (0 when none is waiting).",
    "ivr_intakes_recovered_24h": "Recordings reconcile found at Twilio that no callback had brought, last 24 hours.",
    "ivr_transcripts_failed_24h": "Cases of the last 24 hours whose transcription failed.",
    "ivr_urgent_unclaimed_oldest_seconds": "Age of the oldest urgent case nobody has claimed (0 when none).",
}


def read_line_gauges(session: Session, now: datetime) -> Gauges:
    """Counts and ages that tell a duty engineer whether reports are becoming cases."""
    day_ago = now - timedelta(hours=24)

    def count(*where: ColumnElement[bool]) -> float:
        return float(session.scalar(select(func.count()).select_from(Intake).where(*where)) or 0)

    oldest_in_flight = session.scalar(select(func.min(Intake.created_at)).where(*_IN_FLIGHT))
    transcripts_failed = session.scalar(
        select(func.count()).select_from(Case).where(Case.transcript_status == "failed", Case.created_at >= day_ago)
    )
    oldest_urgent = session.scalar(
        select(func.min(Case.created_at)).where(
            Case.is_urgent.is_(True), Case.status == "new", Case.assignee_id.is_(None)
        )
    )
    values = {
        "ivr_intakes_pending": count(Intake.status == PENDING),
        "ivr_intakes_failed": count(Intake.status == FAILED),
        "ivr_intake_oldest_in_flight_seconds": _age_s(oldest_in_flight, now),
        "ivr_intakes_recovered_24h": count(Intake.kind == "recovered", Intake.created_at >= day_ago),
        "ivr_transcripts_failed_24h": float(transcripts_failed or 0),
        "ivr_urgent_unclaimed_oldest_seconds": _age_s(oldest_urgent, now),
    }
    return {name: (HELP[name], value) for name, value in values.items()}


def unknown_line_gauges() -> Gauges:
    """The same gauges when the database cannot be read: -1, which the alert rules catch."""
    return {name: (text, -1.0) for name, text in HELP.items()}
