"""Searching the queue: words of reports, references, categories, operators, and filters; saved searches.

Report text is encrypted at rest, so words are looked up in the blind index (`search_index`,
`ivr.search_terms`): the words typed are stemmed and keyed like the stored ones, and a case
matches when it holds every word (in its transcripts and notes together). The same query also
matches a reference (all of it, or its first digits), a category by its name in kk, ru or en,
and the operator a case is assigned to, by name. Everything stays inside `principal.case_scope()`
because these conditions are added to the queue's own (`queue.QueueFilters.conditions`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, not_, or_, select
from sqlalchemy.orm import Session

from ivr import i18n
from ivr.accounts import Principal
from ivr.cases import transcripts
from ivr.cases.casework import CATEGORIES, Invalid
from ivr.cases.deadlines import DeadlineBook, overdue_condition
from ivr.models import TRANSCRIPT_STATUSES, Case, Operator, SavedFilter, SearchTerm
from ivr.plain_text import UnsafeText, checked_text
from ivr.search_terms import normalise, stems, term_keys_of, words

QUERY_MAX_CHARS = 200
DEADLINE_STATES = ("overdue", "due_soon", "ok")
TRANSCRIPT_STATES = (*TRANSCRIPT_STATUSES, "none", "unreliable")
YES_NO = ("", "yes", "no")
# What a saved search keeps: these, plus the queue's own (status, region, language, dates, mine).
SEARCH_ARGS = ("q", "urgent", "category", "assignee", "new_info", "transcript", "deadline")
QUEUE_ARGS = ("status", "region", "language", "from", "to", "mine")
SAVED_MAX = 30
NAME_MAX_CHARS = 60
_REFERENCE = re.compile(r"^\d[\d\s-]{2,}$")
COMMON_WORD_CASES = 2_000
"""Index entries from which a word counts as common: its cases are probed one by one, not listed."""

DeadlineCondition = Callable[[str], "ColumnElement[bool] | None"]
"""Turns a deadline state (from the deadlines module) into a condition on Case; None if unknown."""


@dataclass(frozen=True)
class SearchFilters:
    """A search of the queue, resolved against the database (operators' names, the index keys)."""

    q: str = ""
    urgent: str = ""  # "", "yes", "no"
    category: str = ""  # "", "none", a category code
    assignee: str = ""  # "", "none", an operator id
    new_info: str = ""  # "", "yes", "no"
    transcript: str = ""  # "", a case transcript status, or "unreliable"
    deadline: str = ""  # "", or a state the deadlines module names
    min_confidence: float = transcripts.DEFAULT_MIN_CONFIDENCE
    query_conditions: tuple[Any, ...] = field(default=(), compare=False)
    deadline_condition: Any = field(default=None, compare=False)

    @property
    def is_active(self) -> bool:
        """Whether anything narrows the queue."""
        return any((self.q, self.urgent, self.category, self.assignee, self.new_info, self.transcript, self.deadline))

    def conditions(self) -> list[ColumnElement[bool]]:
        """SQL conditions on Case (added to the queue's, which carry the person's scope)."""
        found: list[ColumnElement[bool]] = list(self.query_conditions)
        if self.urgent:
            found.append(Case.is_urgent.is_(self.urgent == "yes"))
        if self.category == "none":
            found.append(Case.category.is_(None))
        elif self.category:
            found.append(Case.category == self.category)
        if self.assignee == "none":
            found.append(Case.assignee_id.is_(None))
        elif self.assignee:
            found.append(Case.assignee_id == int(self.assignee))
        if self.new_info:
            found.append(Case.has_new_info.is_(self.new_info == "yes"))
        if self.transcript == "unreliable":
            found.append(transcripts.has_unreliable_transcript(self.min_confidence))
        elif self.transcript:
            found.append(Case.transcript_status == self.transcript)
        if self.deadline_condition is not None:
            found.append(self.deadline_condition)
        return found


def clean_query(raw: str) -> str:
    """The query as typed, without control characters, cut to QUERY_MAX_CHARS."""
    try:
        return checked_text(raw).strip()[:QUERY_MAX_CHARS]
    except UnsafeText:
        return ""


def reference_condition(query: str) -> ColumnElement[bool] | None:
    """A reference typed whole (8 digits) or its first digits (3 or more); spaces and dashes ignored."""
    if not _REFERENCE.match(query):
        return None
    digits = re.sub(r"\D", "", query)
    if len(digits) >= 8:
        return Case.reference == digits
    return Case.reference.startswith(digits, autoescape=True)


def categories_named(query: str) -> list[str]:
    """Categories whose name in any console language holds every word of the query (stemmed)."""
    wanted = stems(query)
    if not wanted:
        return []
    found = []
    for code in CATEGORIES:
        names = " ".join(i18n.translate(f"category.{code}", locale) for locale in i18n.LOCALES)
        if wanted <= stems(names + " " + code.replace("_", " ")):
            found.append(code)
    return found


def operators_named(session: Session, query: str) -> list[int]:
    """Ids of people whose name or username has a word starting with each word of the query."""
    wanted = words(query)
    if not wanted:
        return []
    found = []
    for operator_id, display_name, username in session.execute(
        select(Operator.id, Operator.display_name, Operator.username).where(
            Operator.role.in_(("operator", "supervisor"))
        )
    ):
        have = words(f"{display_name} {username}")
        if all(any(word.startswith(w) for word in have) for w in wanted):
            found.append(operator_id)
    return found


def text_condition(session: Session, query: str) -> ColumnElement[bool] | None:
    """Cases whose transcripts and notes hold every word of the query (via the blind index)."""
    groups = term_keys_of(session).query_terms(query)
    if not groups:
        return None
    return and_(*(_holding(session, group) for group in groups))


def _holding(session: Session, group: set[int]) -> ColumnElement[bool]:
    # A rare word (a surname) is a short range of the index: the database reads it whole and joins
    # it to the cases. A common one ("взятка", in a fifth of all reports) would be read and hashed
    # whole (190,000 entries at a million cases) to show 25 rows; instead the queue walks the cases
    # in its own order (ix_cases_work_order) and probes the index for each. OFFSET 0 keeps
    # PostgreSQL from turning the probe back into that hash.
    in_index = select(SearchTerm.case_id).where(SearchTerm.term.in_(group))
    if count_upto(session, in_index, COMMON_WORD_CASES) < COMMON_WORD_CASES:
        return Case.id.in_(in_index)
    return exists(in_index.where(SearchTerm.case_id == Case.id).offset(0))


def count_upto(session: Session, query: Select[Any], limit: int) -> int:
    """How many rows `query` returns, counting no further than `limit`."""
    return session.scalar(select(func.count()).select_from(query.limit(limit).subquery())) or 0


def query_condition(session: Session, query: str) -> ColumnElement[bool]:
    """Everything a typed query may mean: a reference, words of the report, a category, an assignee."""
    options: list[ColumnElement[bool]] = []
    reference = reference_condition(query)
    if reference is not None:
        options.append(reference)
    text = text_condition(session, query)
    if text is not None:
        options.append(text)
    categories = categories_named(query)
    if categories:
        options.append(Case.category.in_(categories))
    people = operators_named(session, query)
    if people:
        options.append(Case.assignee_id.in_(people))
    return or_(*options) if options else false()


def _choice(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else ""


def resolve(
    session: Session,
    args: Mapping[str, str],
    *,
    min_confidence: float = transcripts.DEFAULT_MIN_CONFIDENCE,
    deadline_states: tuple[str, ...] = (),
    deadline_condition: DeadlineCondition | None = None,
) -> SearchFilters:
    """The search in a query string; unknown values are dropped, never trusted."""
    q = clean_query(args.get("q", ""))
    assignee = args.get("assignee", "")
    deadline = _choice(args.get("deadline", ""), deadline_states)
    return SearchFilters(
        q=q,
        urgent=_choice(args.get("urgent", ""), YES_NO),
        category=_choice(args.get("category", ""), ("none", *CATEGORIES)),
        assignee=assignee if assignee == "none" or assignee.isdigit() else "",
        new_info=_choice(args.get("new_info", ""), YES_NO),
        transcript=_choice(args.get("transcript", ""), TRANSCRIPT_STATES),
        deadline=deadline,
        min_confidence=min_confidence,
        query_conditions=(query_condition(session, q),) if normalise(q).strip() else (),
        deadline_condition=deadline_condition(deadline) if deadline and deadline_condition else None,
    )


def deadline_condition_for(book: DeadlineBook | None, now: datetime) -> DeadlineCondition | None:
    """The deadline filter's states as conditions on Case, from the deadline rules (None without rules).

    Overdue: past a pending deadline now. Due soon: not overdue now, but would be within the
    rules' `due_soon_hours`. On time: open, and neither.
    """
    if book is None:
        return None
    soon = now + timedelta(hours=book.rules.due_soon_hours)

    def condition(state: str) -> ColumnElement[bool] | None:
        overdue_now = overdue_condition(book, now)
        overdue_soon = overdue_condition(book, soon)
        if state == "overdue":
            return overdue_now
        if state == "due_soon":
            return and_(overdue_soon, not_(overdue_now))
        if state == "ok":
            return and_(Case.status != "closed", not_(overdue_soon))
        return None

    return condition


# ---------------------------------------------------------------- saved searches


@dataclass(frozen=True)
class Saved:
    """One saved search as the console lists it."""

    id: int
    name: str
    query: str  # a URL query string for the queue


def saved_query(args: Mapping[str, str]) -> str:
    """The part of a queue URL's query string worth saving (no page, no tokens)."""
    pairs = [(name, args[name]) for name in (*QUEUE_ARGS, *SEARCH_ARGS) if args.get(name)]
    return urlencode(pairs)


def list_saved(session: Session, principal: Principal) -> list[Saved]:
    """This person's saved searches, by name."""
    rows = session.scalars(select(SavedFilter).where(SavedFilter.operator_id == principal.id))
    return sorted((Saved(row.id, row.name, row.query) for row in rows), key=lambda s: normalise(s.name))


def save(session: Session, principal: Principal, name: str, args: Mapping[str, str]) -> Saved:
    """Save the current search under a name; the same name again replaces it."""
    try:
        name = checked_text(name).strip()
    except UnsafeText:
        raise Invalid("form.invalid_text") from None
    if not name:
        raise Invalid("form.required")
    if len(name) > NAME_MAX_CHARS:
        raise Invalid("form.too_long")
    query = saved_query(args)
    rows = list(session.scalars(select(SavedFilter).where(SavedFilter.operator_id == principal.id)))
    same = next((row for row in rows if normalise(row.name) == normalise(name)), None)
    if same is not None:
        same.name, same.query = name, query
        row = same
    else:
        if len(rows) >= SAVED_MAX:
            raise Invalid("search.too_many_saved")
        row = SavedFilter(operator_id=principal.id, name=name, query=query)
        session.add(row)
    session.flush()
    return Saved(row.id, row.name, row.query)


def delete_saved(session: Session, principal: Principal, saved_id: int) -> bool:
    """Remove one of this person's saved searches; False if it is not theirs or not there."""
    row = session.get(SavedFilter, saved_id)
    if row is None or row.operator_id != principal.id:
        return False
    session.delete(row)
    return True


def args_of(saved: Saved) -> dict[str, str]:
    """A saved search's query string as arguments."""
    return dict(parse_qsl(saved.query))
