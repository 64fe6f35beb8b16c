"""The deadlines of a report (config/deadlines.yaml) and which cases have missed them.

Pure functions decide one case's deadlines from its facts (when it came in, its status, whether
someone took it, urgent, category) and a working-day calendar; the queries turn the same rules
into SQL conditions, so the overview, the workload page and the queue's counts agree with what
each row shows. Every rule's deadline grows with the case's creation time, so "overdue now" is
"created before a cut-off", which the database can answer with the index on cases.created_at.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.cases.work_calendar import WorkCalendar, load_work_calendar
from ivr.config_file import ConfigFileError, PlacedError, load_model, resolve
from ivr.display_time import DISPLAY_ZONE
from ivr.models import Case, CaseDetail, Operator
from ivr.settings import Settings

RuleName = Literal["acknowledge", "forward_crime", "redirect", "answer"]
RULE_NAMES: tuple[RuleName, ...] = ("acknowledge", "forward_crime", "redirect", "answer")
MET_BY_FORWARDING = ("forwarded", "closed")
"""Statuses that meet forward_crime, redirect and answer: the case left the line's hands."""
State = Literal["overdue", "due_soon", "ok"]


# ---------------------------------------------------------------- the rule table


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    """One deadline: clock hours or working days after the case came in."""

    hours: float | None = Field(default=None, gt=0)
    working_days: int | None = Field(default=None, gt=0)
    applies_to_urgent: bool = False
    """forward_crime: the rule applies to urgent cases (the caller's "happening now" option)."""
    categories: tuple[str, ...] = ()
    """redirect: the categories of reports that are not for the Agency."""

    @model_validator(mode="after")
    def _one_measure(self) -> Rule:
        if (self.hours is None) == (self.working_days is None):
            raise ValueError("give either hours or working_days")
        return self


class Rules(_Strict):
    """The four named rules and when a deadline counts as near."""

    acknowledge: Rule
    forward_crime: Rule
    redirect: Rule
    answer: Rule
    due_soon_hours: float = Field(default=4, ge=0)

    @model_validator(mode="after")
    def _known_categories(self) -> Rules:
        from ivr.cases.casework import CATEGORIES

        unknown = [c for c in self.redirect.categories if c not in CATEGORIES]
        if unknown:
            raise PlacedError(f"unknown {', '.join(unknown)} (known: {', '.join(CATEGORIES)})",
                              "redirect", "categories")
        return self

    def rule(self, name: RuleName) -> Rule:
        """A rule by name."""
        rule: Rule = getattr(self, name)
        return rule


class _RulesFile(_Strict):
    rules: Rules
    due_soon_hours: float = Field(default=4, ge=0)


@dataclass(frozen=True)
class DeadlineBook:
    """The rules and the calendar they count working days on."""

    rules: Rules
    calendar: WorkCalendar


def load_rules(path: Path) -> Rules:
    """The rule table in `path`; ConfigFileError naming the file and line if it is wrong."""
    loaded = load_model(path, _RulesFile)
    return loaded.rules.model_copy(update={"due_soon_hours": loaded.due_soon_hours})


_books: dict[tuple[Path, float, Path, float], DeadlineBook] = {}
_books_lock = threading.Lock()


def load_book(rules_path: Path, calendar_path: Path) -> DeadlineBook:
    """Both files, read again only when one changed on disk (a person may edit them at any time)."""
    rules_file, calendar_file = resolve(rules_path), resolve(calendar_path)
    key = (rules_file, _mtime(rules_file), calendar_file, _mtime(calendar_file))
    with _books_lock:
        book = _books.get(key)
        if book is None:
            book = DeadlineBook(load_rules(rules_file), load_work_calendar(calendar_file))
            _books.clear()
            _books[key] = book
        return book


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


# ---------------------------------------------------------------- one case


@dataclass(frozen=True)
class CaseFacts:
    """What the rules look at."""

    created_at: datetime
    status: str
    is_urgent: bool
    category: str | None
    first_handled_at: datetime | None


@dataclass(frozen=True)
class Deadline:
    """One rule's deadline for one case."""

    rule: RuleName
    due: datetime  # aware UTC; overdue once now is past it
    state: State


def aware(moment: datetime) -> datetime:
    """SQLite returns naive UTC; everything here compares aware times."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def due_at(rule: Rule, created_at: datetime, calendar: WorkCalendar) -> datetime:
    """When a rule's deadline falls for a case opened at `created_at` (aware UTC).

    Working days: the day the report came in is not counted; the deadline is the end of the last
    working day, Kazakhstan time (23:59:59, shown as such).
    """
    created = aware(created_at)
    if rule.hours is not None:
        return created + timedelta(hours=rule.hours)
    assert rule.working_days is not None
    local_day = created.astimezone(DISPLAY_ZONE).date()
    last = calendar.add_working_days(local_day, rule.working_days)
    return _end_of_day(last)


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=DISPLAY_ZONE).astimezone(UTC) - timedelta(
        seconds=1
    )


def pending_rules(facts: CaseFacts, rules: Rules) -> list[RuleName]:
    """The rules this case has not met yet."""
    if facts.status == "closed":
        return []
    pending: list[RuleName] = []
    if facts.first_handled_at is None:
        pending.append("acknowledge")
    handed_on = facts.status in MET_BY_FORWARDING
    if not handed_on:
        if rules.forward_crime.applies_to_urgent and facts.is_urgent:
            pending.append("forward_crime")
        if facts.category is not None and facts.category in rules.redirect.categories:
            pending.append("redirect")
        pending.append("answer")
    return pending


def state_of(due: datetime, now: datetime, rules: Rules) -> State:
    """Overdue once past; due soon within `due_soon_hours`."""
    if aware(now) > due:
        return "overdue"
    if due - aware(now) <= timedelta(hours=rules.due_soon_hours):
        return "due_soon"
    return "ok"


def deadlines_of(facts: CaseFacts, book: DeadlineBook, now: datetime) -> list[Deadline]:
    """Every pending deadline of a case, nearest first."""
    found = []
    for name in pending_rules(facts, book.rules):
        due = due_at(book.rules.rule(name), facts.created_at, book.calendar)
        found.append(Deadline(name, due, state_of(due, now, book.rules)))
    return sorted(found, key=lambda d: (d.due, RULE_NAMES.index(d.rule)))


def next_deadline(facts: CaseFacts, book: DeadlineBook, now: datetime) -> Deadline | None:
    """The nearest deadline the case has not met, or None (closed, or nothing pending)."""
    found = deadlines_of(facts, book, now)
    return found[0] if found else None


# ---------------------------------------------------------------- as SQL


def created_before(rule: Rule, now: datetime, calendar: WorkCalendar) -> datetime:
    """The cut-off: a case opened before it has this rule's deadline behind it at `now`.

    Deadlines grow with the creation time, so the cut-off is found by stepping back over the
    Kazakhstan days from today until a day's deadline is already past.
    """
    now = aware(now)
    if rule.hours is not None:
        return now - timedelta(hours=rule.hours)
    day = now.astimezone(DISPLAY_ZONE).date()
    while due_at(rule, _start_of_day(day), calendar) >= now:
        day -= timedelta(days=1)
    return _start_of_day(day + timedelta(days=1))


def _start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=DISPLAY_ZONE).astimezone(UTC)


def _handled() -> ColumnElement[bool]:
    return exists().where(CaseDetail.case_id == Case.id, CaseDetail.first_handled_at.is_not(None))


def pending_condition(name: RuleName, rules: Rules) -> ColumnElement[bool]:
    """`pending_rules` for one rule, as a SQL condition on `Case`."""
    is_open = Case.status != "closed"
    not_handed_on = Case.status.not_in(MET_BY_FORWARDING)
    if name == "acknowledge":
        return and_(is_open, ~_handled())
    if name == "forward_crime":
        if not rules.forward_crime.applies_to_urgent:
            return false()
        return and_(not_handed_on, Case.is_urgent.is_(True))
    if name == "redirect":
        if not rules.redirect.categories:
            return false()
        return and_(not_handed_on, Case.category.in_(rules.redirect.categories))
    return not_handed_on


def overdue_condition(book: DeadlineBook, now: datetime, names: Iterable[RuleName] = RULE_NAMES) -> ColumnElement[bool]:
    """Cases past at least one of these rules' deadlines at `now` (for counts and filters)."""
    return or_(
        *(
            and_(pending_condition(name, book.rules), Case.created_at < created_before(book.rules.rule(name), now,
                                                                                         book.calendar))
            for name in names
        )
    )


@dataclass(frozen=True)
class OverdueCounts:
    """Open cases past a deadline, in all and per rule."""

    total: int
    by_rule: dict[RuleName, int]
    calendar_covers_today: bool


def overdue_counts(session: Session, principal: Principal, book: DeadlineBook, now: datetime) -> OverdueCounts:
    """How many cases this person sees are overdue, in all and per rule."""
    scope = principal.case_scope()
    by_rule: dict[RuleName, int] = {}
    for name in RULE_NAMES:
        condition = overdue_condition(book, now, (name,))
        by_rule[name] = int(session.scalar(select(func.count()).select_from(Case).where(scope, condition)) or 0)
    total = int(
        session.scalar(select(func.count()).select_from(Case).where(scope, overdue_condition(book, now))) or 0
    )
    today = aware(now).astimezone(DISPLAY_ZONE).date()
    return OverdueCounts(total, by_rule, book.calendar.covers(today))


@dataclass(frozen=True)
class Workload:
    """One person's open and overdue cases (`operator_id` None: nobody has taken them)."""

    operator_id: int | None
    name: str | None
    role: str | None
    is_active: bool
    open: int
    overdue: int


def workload(session: Session, principal: Principal, book: DeadlineBook, now: datetime) -> list[Workload]:
    """Open and overdue cases per assignee (and the unassigned), for supervisors; most overdue first.

    Every active operator and supervisor is listed, with zeros if they hold nothing, so an idle
    person shows as idle rather than missing.
    """
    scope = principal.case_scope()
    overdue = overdue_condition(book, now)
    counts: dict[int | None, tuple[int, int]] = {}
    query = (
        select(Case.assignee_id, func.count(), func.sum(_as_int(overdue)))
        .where(scope, Case.status != "closed")
        .group_by(Case.assignee_id)
    )
    for assignee_id, open_count, overdue_count in session.execute(query):
        counts[assignee_id] = (int(open_count), int(overdue_count or 0))
    people = {
        row.id: row
        for row in session.scalars(
            select(Operator).where(
                or_(Operator.id.in_([i for i in counts if i is not None]),
                    and_(Operator.is_active.is_(True), Operator.role.in_(("operator", "supervisor"))))
            )
        )
    }
    found = [
        Workload(person.id, person.display_name or person.username, person.role, person.is_active,
                 *counts.get(person.id, (0, 0)))
        for person in people.values()
    ]
    found.sort(key=lambda w: (-w.overdue, -w.open, (w.name or "").lower()))
    unassigned = counts.get(None, (0, 0))
    return [Workload(None, None, None, True, *unassigned), *found]


def _as_int(condition: ColumnElement[bool]) -> ColumnElement[int]:
    from sqlalchemy import case

    return case((condition, 1), else_=0)


def book_for(settings: Settings) -> DeadlineBook:
    """The deadline rules and calendar the settings name (read again when a file changes)."""
    return load_book(settings.deadlines_path, settings.work_calendar_path)


def book_or_problem(settings: Settings) -> tuple[DeadlineBook | None, str | None]:
    """The book, or None and the file:line problem to show (a bad rule file never stops the line)."""
    try:
        return book_for(settings), None
    except ConfigFileError as error:
        return None, str(error)
