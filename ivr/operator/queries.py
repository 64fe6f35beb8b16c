"""Reading cases for people: the queue, one case with its recordings, the audit trail, statistics.

Every query takes the `Principal` and applies `principal.case_scope()`, so a list, a count or
a chart never includes a case the person could not open.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal_column, select
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.db import utc_now
from ivr.i18n import DISPLAY_ZONE, local_time
from ivr.models import (
    CASE_STATUSES,
    AuditEvent,
    Call,
    Case,
    CaseDetail,
    CaseNote,
    Intake,
    Operator,
    StoredRecording,
    Transcript,
)

PAGE_SIZE = 25
LANGUAGES = ("kk", "ru", "en")
STATUS_ORDER = {"new": 0, "in_review": 1, "forwarded": 2, "closed": 3}


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows: `status` "open" means everything not closed; "" means every status."""

    status: str = "open"
    region: str = ""
    language: str = ""
    date_from: date | None = None
    date_to: date | None = None
    mine: bool = False
    page: int = 1

    def conditions(self, principal: Principal) -> list[ColumnElement[bool]]:
        """SQL conditions for these filters, inside the person's scope."""
        found: list[ColumnElement[bool]] = [principal.case_scope()]
        if self.status == "open":
            found.append(Case.status != "closed")
        elif self.status:
            found.append(Case.status == self.status)
        if self.region == "none":
            found.append(Case.region_code.is_(None))
        elif self.region:
            found.append(Case.region_code == self.region)
        if self.language:
            found.append(Case.language == self.language)
        if self.date_from:
            found.append(Case.created_at >= start_of_day(self.date_from))
        if self.date_to:
            found.append(Case.created_at < start_of_day(self.date_to + timedelta(days=1)))
        if self.mine:
            found.append(Case.assignee_id == principal.id)
        return found


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def parse_filters(args: Mapping[str, str], region_codes: list[str]) -> QueueFilters:
    """Filters from a query string; unknown values are ignored, never trusted."""
    status = args.get("status", "open")
    region = args.get("region", "")
    language = args.get("language", "")
    try:
        page = int(args.get("page", "1"))
    except ValueError:
        page = 1
    return QueueFilters(
        status=status if status in ("open", "", *CASE_STATUSES) else "open",
        region=region if region in ("", "none", *region_codes) else "",
        language=language if language in ("", *LANGUAGES) else "",
        date_from=_date(args.get("from", "")),
        date_to=_date(args.get("to", "")),
        mine=args.get("mine") in ("1", "true"),
        page=page,
    )


def start_of_day(day: date) -> datetime:
    """Midnight of a day in Kazakhstan, in UTC."""
    return datetime.combine(day, time(0), tzinfo=DISPLAY_ZONE).astimezone(UTC)


VERDICT_BY_RANK = {2: "unreliable", 1: "no_speech", 0: "reliable"}


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue."""

    id: int
    reference: str | None
    status: str
    is_urgent: bool
    region_code: str | None
    language: str | None
    is_anonymous: bool
    has_new_info: bool
    is_recovered: bool
    transcript_status: str
    category: str | None
    assignee_id: int | None
    assignee_name: str | None
    created_at: datetime
    duration_s: float | None
    recordings: int
    transcript_verdict: str | None = None
    """The least trustworthy verdict among the call's transcripts: unreliable, no_speech, reliable."""

    def as_json(self) -> dict[str, Any]:
        """The row as the API returns it."""
        return {
            "id": self.id,
            "reference": self.reference,
            "status": self.status,
            "is_urgent": self.is_urgent,
            "region_code": self.region_code,
            "language": self.language,
            "is_anonymous": self.is_anonymous,
            "has_new_info": self.has_new_info,
            "transcript_status": self.transcript_status,
            "category": self.category,
            "assignee_id": self.assignee_id,
            "received_at": iso(self.created_at),
            "duration_s": self.duration_s,
            "recordings": self.recordings,
            "transcript_verdict": self.transcript_verdict,
        }


@dataclass(frozen=True)
class QueuePage:
    """A page of the queue and where it sits in the whole."""

    rows: list[QueueRow]
    total: int
    page: int
    pages: int


def iso(moment: datetime | None) -> str | None:
    """An aware UTC ISO-8601 time for JSON (SQLite returns naive UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def list_cases(
    session: Session, principal: Principal, filters: QueueFilters, *, page_size: int = PAGE_SIZE
) -> QueuePage:
    """A page of the queue: urgent open cases pinned on top, then new ones, newest first."""
    where = filters.conditions(principal)
    total = session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, filters.page), pages)
    durations = (
        select(
            Intake.call_id.label("call_id"),
            func.sum(Intake.duration_s).label("duration_s"),
            func.count(Intake.id).label("recordings"),
        )
        .group_by(Intake.call_id)
        .subquery()
    )
    # The worst verdict of the call's transcripts: 2 unreliable, 1 no speech, 0 reliable.
    verdict_rank = case(
        (Transcript.verdict == "unreliable", 2),
        (Transcript.verdict == "no_speech", 1),
        (Transcript.verdict == "reliable", 0),
    )
    verdicts = (
        select(Intake.call_id.label("call_id"), func.max(verdict_rank).label("rank"))
        .join(Transcript, Transcript.intake_id == Intake.id)
        .group_by(Intake.call_id)
        .subquery()
    )
    pinned = case((and_(Case.is_urgent.is_(True), Case.status != "closed"), 0), else_=1)
    status_rank = case(STATUS_ORDER, value=Case.status, else_=9)
    query = (
        select(Case, durations.c.duration_s, durations.c.recordings, Operator.display_name, verdicts.c.rank)
        .outerjoin(durations, durations.c.call_id == Case.call_id)
        .outerjoin(verdicts, verdicts.c.call_id == Case.call_id)
        .outerjoin(Operator, Operator.id == Case.assignee_id)
        .where(*where)
        .order_by(pinned, status_rank, Case.created_at.desc(), Case.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    rows = [
        QueueRow(
            id=row.id,
            reference=row.reference,
            status=row.status,
            is_urgent=row.is_urgent,
            region_code=row.region_code,
            language=row.language,
            is_anonymous=row.is_anonymous,
            has_new_info=row.has_new_info,
            is_recovered=row.is_recovered,
            transcript_status=row.transcript_status,
            category=row.category,
            assignee_id=row.assignee_id,
            assignee_name=assignee,
            created_at=row.created_at,
            duration_s=float(duration) if duration is not None else None,
            recordings=int(count or 0),
            transcript_verdict=VERDICT_BY_RANK.get(rank),
        )
        for row, duration, count, assignee, rank in session.execute(query)
    ]
    return QueuePage(rows, int(total), page, pages)


def waiting_by_region(session: Session, principal: Principal) -> dict[str | None, int]:
    """How many new (untouched) reports wait in each region this person sees."""
    query = (
        select(Case.region_code, func.count())
        .where(principal.case_scope(), Case.status == "new")
        .group_by(Case.region_code)
    )
    return {region: int(count) for region, count in session.execute(query)}


# ---------------------------------------------------------------- one case


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


def case_view(session: Session, case: Case) -> CaseView:
    """The case page's data; the caller has checked that the person may see the case."""
    call = session.get_one(Call, case.call_id)
    intakes = list(session.scalars(select(Intake).where(Intake.call_id == case.call_id).order_by(Intake.id)))
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


# ---------------------------------------------------------------- audit trail


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


# ---------------------------------------------------------------- statistics


@dataclass(frozen=True)
class WaitStats:
    """How long reports waited before someone took them, in seconds."""

    handled: int
    median_s: float | None
    p90_s: float | None
    waiting_now: int
    oldest_waiting_s: float | None


@dataclass(frozen=True)
class Overview:
    """The figures of the supervisors' overview."""

    days: list[tuple[date, int]]
    regions: list[tuple[str | None, int]]
    waits: WaitStats
    waits_by_region: list[tuple[str | None, WaitStats]]
    dropped: list[tuple[str | None, str, int]]  # last menu node, call status, calls
    calls_total: int

    def as_json(self) -> dict[str, Any]:
        """The overview as the API returns it."""

        def waits(stats: WaitStats) -> dict[str, Any]:
            return {
                "handled": stats.handled,
                "median_s": stats.median_s,
                "p90_s": stats.p90_s,
                "waiting_now": stats.waiting_now,
                "oldest_waiting_s": stats.oldest_waiting_s,
            }

        return {
            "reports_per_day": [{"date": day.isoformat(), "reports": n} for day, n in self.days],
            "reports_per_region": [{"region_code": r, "reports": n} for r, n in self.regions],
            "waiting": waits(self.waits),
            "waiting_per_region": [{"region_code": r, **waits(s)} for r, s in self.waits_by_region],
            "dropped_calls": [{"last_node": node, "status": status, "calls": n} for node, status, n in self.dropped],
            "calls_total": self.calls_total,
        }


def _local_day(session: Session, column: Any) -> Any:
    """The Kazakhstan calendar day of a stored UTC time, in SQL (UTC+5 all year)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column) + literal_column("interval '5 hours'"))
    return func.date(column, "+5 hours")


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return ordered[index]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def period_days(raw: str | None, *, minimum: int = 1, default: int = 30, maximum: int = 365) -> int:
    """The `?days=` of an overview, kept within sensible bounds; nonsense gives the default."""
    try:
        return min(max(int(raw or default), minimum), maximum)
    except ValueError:
        return default


def overview(session: Session, principal: Principal, *, days: int = 30, now: datetime | None = None) -> Overview:
    """Reports per day and region, waiting times and where callers hang up, over the last `days`."""
    now = now or utc_now()
    today = local_time(now).date()  # type: ignore[union-attr]
    first_day = today - timedelta(days=days - 1)
    since = start_of_day(first_day)
    scope = principal.case_scope()

    day = _local_day(session, Case.created_at)
    per_day = {
        str(value): int(count)
        for value, count in session.execute(
            select(day, func.count()).where(scope, Case.created_at >= since).group_by(day)
        )
    }
    day_series = [(first_day + timedelta(days=i), per_day.get((first_day + timedelta(days=i)).isoformat(), 0))
                  for i in range(days)]
    regions = sorted(
        (
            (region, int(count))
            for region, count in session.execute(
                select(Case.region_code, func.count())
                .where(scope, Case.created_at >= since)
                .group_by(Case.region_code)
            )
        ),
        key=lambda item: (-item[1], item[0] or "~"),
    )

    rows = session.execute(
        select(Case.region_code, Case.created_at, CaseDetail.first_handled_at, Case.status)
        .outerjoin(CaseDetail, CaseDetail.case_id == Case.id)
        .where(scope, Case.created_at >= since)
    ).all()
    waiting_rows = session.execute(
        select(Case.region_code, Case.created_at).where(scope, Case.status == "new")
    ).all()

    def stats(region_rows: list[Any], waiting: list[Any]) -> WaitStats:
        waits = [
            (_aware(handled) - _aware(created)).total_seconds()
            for _, created, handled, _ in region_rows
            if handled is not None
        ]
        open_waits = [(now - _aware(created)).total_seconds() for _, created in waiting]
        return WaitStats(
            handled=len(waits),
            median_s=_percentile(waits, 0.5),
            p90_s=_percentile(waits, 0.9),
            waiting_now=len(open_waits),
            oldest_waiting_s=max(open_waits) if open_waits else None,
        )

    region_codes = sorted({row[0] for row in rows} | {row[0] for row in waiting_rows}, key=lambda r: r or "~")
    by_region = [
        (code, stats([r for r in rows if r[0] == code], [w for w in waiting_rows if w[0] == code]))
        for code in region_codes
    ]

    dropped: list[tuple[str | None, str, int]] = []
    calls_total = 0
    if principal.sees_all_regions:
        # Calls that left no recording have no case, so no region scope applies: supervisors only.
        has_intake = exists().where(Intake.call_id == Call.id)
        dropped = [
            (node, status, int(count))
            for node, status, count in session.execute(
                select(Call.last_node, Call.status, func.count())
                .where(~has_intake, Call.started_at >= since, Call.status != "in-progress")
                .group_by(Call.last_node, Call.status)
            )
        ]
        dropped.sort(key=lambda item: (-item[2], item[0] or "~", item[1]))
        calls_total = int(session.scalar(select(func.count()).select_from(Call).where(Call.started_at >= since)) or 0)
    return Overview(day_series, regions, stats(list(rows), list(waiting_rows)), by_region, dropped, calls_total)
