"""The queue of cases as people read it: filters, one page of rows, what waits per region.

Every query takes the `Principal` and applies `principal.case_scope()`, so a list or a count
never includes a case the person could not open (the same holds in `statistics` and `audit`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.cases import transcripts
from ivr.cases.deadlines import CaseFacts, Deadline, DeadlineBook, next_deadline
from ivr.cases.search import SearchFilters, count_upto
from ivr.db import utc_now
from ivr.display_time import DISPLAY_ZONE, parse_date
from ivr.models import CASE_STATUSES, Case, CaseDetail, Intake, Operator
from ivr.retakes import kept

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
    search: SearchFilters | None = None
    """Words, references and the search filters (ivr.cases.search), resolved by the view."""

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
        if self.search is not None:
            found.extend(self.search.conditions())
        return found


def _date(raw: str) -> date | None:
    return parse_date(raw)  # 05.03.2026 as people type it, or ISO from older links


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
    first_handled_at: datetime | None = None
    deadline: Deadline | None = None
    """The nearest deadline the case has not met (ivr.cases.deadlines), when the rules were given."""

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
            "deadline": None if self.deadline is None else {
                "rule": self.deadline.rule, "due_at": iso(self.deadline.due), "state": self.deadline.state,
            },
        }


@dataclass(frozen=True)
class QueuePage:
    """A page of the queue and where it sits in the whole."""

    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    total_capped: bool = False
    """`total` is a floor: more cases match, and pages go on past `pages` (see COUNT_AHEAD)."""


def iso(moment: datetime | None) -> str | None:
    """An aware UTC ISO-8601 time for JSON (SQLite returns naive UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def work_rank() -> ColumnElement[int]:
    """The work list's first sort key: 0 an urgent open case, 1 another open case, 2 a closed one.

    The constants are written into the SQL, not bound, so that PostgreSQL recognises the
    expression of the index `ix_cases_work_order` (migration 0015, WORK_RANK_SQL) and reads a
    page in order from it.
    """
    return case(
        (Case.status == literal("closed", literal_execute=True), literal(2, literal_execute=True)),
        (Case.is_urgent, literal(0, literal_execute=True)),
        else_=literal(1, literal_execute=True),
    )


WORK_RANK_SQL = "CASE WHEN status = 'closed' THEN 2 WHEN is_urgent THEN 0 ELSE 1 END"
"""`work_rank()` as the index holds it (tests compare the two)."""
COUNT_AHEAD = 1_000
"""Matches counted past the page shown; beyond that the console says "more than" (QueuePage.total_capped)."""


def list_cases(
    session: Session, principal: Principal, filters: QueueFilters, *, page_size: int = PAGE_SIZE,
    book: DeadlineBook | None = None, now: datetime | None = None,
    min_confidence: float = transcripts.DEFAULT_MIN_CONFIDENCE,
) -> QueuePage:
    """A page of the work list: urgent open cases pinned on top, then open ones, oldest first.

    The oldest waiting report is the one most likely to miss its deadline, so it comes first and
    never sinks to a later page. With `book`, each row carries its nearest deadline at `now`.

    The count of matches stops COUNT_AHEAD past the page: counting every case that holds a common
    word, across years of reports, costs more than showing the page (bench/README.md).
    """
    where = filters.conditions(principal)
    rank = work_rank()
    if filters.status == "closed":
        where.append(rank == literal(2, literal_execute=True))
    elif filters.status:  # "open" or one open status: the index's range of open cases only
        where.append(rank < literal(2, literal_execute=True))
    order = (rank, Case.created_at.asc(), Case.id.asc())

    page = max(1, filters.page)
    # At least a page past this one, so a capped count always has a next page to show.
    counted_to = (page - 1) * page_size + max(COUNT_AHEAD, page_size)
    total = count_upto(session, select(Case.id).where(*where), counted_to + 1)
    capped = total > counted_to
    if capped:
        total = counted_to
    pages = max(1, math.ceil(total / page_size))
    if not capped and page > pages:  # past the last page: show the last
        page = pages
    found = list(session.execute(
        select(Case.call_id).where(*where).order_by(*order).limit(page_size).offset((page - 1) * page_size)
    )) if total else []
    # The page's calls first: the sums and verdicts below are then worked out for 25 calls, not
    # for every call of years of reports (bench/README.md, "The console at the scale of years").
    page_calls = [row.call_id for row in found]
    durations = (
        select(
            Intake.call_id.label("call_id"),
            func.sum(Intake.duration_s).label("duration_s"),
            func.count(Intake.id).label("recordings"),
        )
        .where(kept(), Intake.call_id.in_(page_calls))
        .group_by(Intake.call_id)
        .subquery()
    )
    # The worst verdict of the call's transcripts, with the line's confidence threshold applied.
    verdicts = transcripts.worst_rank_by_call(min_confidence, page_calls)
    query = (
        select(Case, durations.c.duration_s, durations.c.recordings, Operator.display_name, verdicts.c.rank,
               CaseDetail.first_handled_at)
        .outerjoin(durations, durations.c.call_id == Case.call_id)
        .outerjoin(CaseDetail, CaseDetail.case_id == Case.id)
        .outerjoin(verdicts, verdicts.c.call_id == Case.call_id)
        .outerjoin(Operator, Operator.id == Case.assignee_id)
        .where(Case.call_id.in_(page_calls))
        .order_by(*order)
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
            first_handled_at=handled_at,
            deadline=None if book is None else next_deadline(
                CaseFacts(row.created_at, row.status, row.is_urgent, row.category, handled_at), book, now or utc_now()
            ),
        )
        for row, duration, count, assignee, rank, handled_at in _result_rows(session, query)
    ]
    return QueuePage(rows, int(total), page, pages, capped)


def _result_rows(session: Session, query: Any) -> list[Any]:
    # A select of this many columns is typed as a tuple of objects; the rows are what the query says.
    return list(session.execute(query))


def waiting_by_region(session: Session, principal: Principal) -> dict[str | None, int]:
    """How many new (untouched) reports wait in each region this person sees."""
    query = (
        select(Case.region_code, func.count())
        .where(principal.case_scope(), Case.status == "new")
        .group_by(Case.region_code)
    )
    return {region: int(count) for region, count in session.execute(query)}


@dataclass(frozen=True)
class UrgentWaiting:
    """An urgent case nobody has taken yet: the console alerts on each new one."""

    id: int
    reference: str | None
    created_at: datetime


def urgent_waiting(session: Session, principal: Principal) -> list[UrgentWaiting]:
    """Urgent cases this person sees that are new and unclaimed, whatever the queue's filters say."""
    query = (
        select(Case.id, Case.reference, Case.created_at)
        .where(principal.case_scope(), Case.is_urgent.is_(True), Case.status == "new", Case.assignee_id.is_(None))
        .order_by(Case.created_at, Case.id)
    )
    return [UrgentWaiting(int(row.id), row.reference, row.created_at) for row in session.execute(query)]
