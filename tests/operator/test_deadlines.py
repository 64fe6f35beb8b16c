"""Deadline rules and Kazakhstan's working-day calendar as pure functions, and their config files.

No database: the dates are worked out by hand in the comments, from the shipped calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ivr.cases import deadlines
from ivr.cases.deadlines import CaseFacts, DeadlineBook
from ivr.cases.work_calendar import load_work_calendar
from ivr.config_file import ConfigFileError
from tests.conftest import ROOT

RULES = ROOT / "config" / "deadlines.yaml"
CALENDAR = ROOT / "config" / "work_calendar.yaml"


@pytest.fixture
def book() -> DeadlineBook:
    return deadlines.load_book(RULES, CALENDAR)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_the_shipped_calendar_knows_2026_and_2027() -> None:
    calendar = load_work_calendar(CALENDAR)
    assert calendar.years == (2026, 2027)
    off_2026 = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 7), date(2026, 3, 9), date(2026, 3, 23),
                date(2026, 3, 24), date(2026, 3, 25), date(2026, 5, 1), date(2026, 5, 7), date(2026, 5, 11),
                date(2026, 5, 27), date(2026, 7, 6), date(2026, 8, 31), date(2026, 10, 26), date(2026, 12, 16)]
    off_2027 = [date(2027, 1, 1), date(2027, 1, 4), date(2027, 1, 7), date(2027, 3, 8), date(2027, 3, 22),
                date(2027, 3, 23), date(2027, 3, 24), date(2027, 5, 3), date(2027, 5, 7), date(2027, 5, 10),
                date(2027, 7, 6), date(2027, 8, 30), date(2027, 10, 25), date(2027, 12, 16)]
    for day in off_2026 + off_2027:
        assert day.weekday() < 5 and not calendar.is_working_day(day), day
    assert calendar.is_working_day(date(2026, 11, 25)) and not calendar.is_working_day(date(2026, 11, 28))


def test_working_days_step_over_nauryz_and_its_transfer_days(book: DeadlineBook) -> None:
    calendar = book.calendar
    # Fri 20 March 2026 + 3: 21-22 weekend and Nauryz, 23 Nauryz, 24-25 its transfers; 26, 27, 30.
    assert calendar.add_working_days(date(2026, 3, 20), 3) == date(2026, 3, 30)
    # A report on Thursday evening, 19 March, 22:00 in Astana (17:00 UTC): redirect by Fri 27 March 23:59.
    facts = CaseFacts(utc(2026, 3, 19, 17), "in_review", False, "other", utc(2026, 3, 19, 18))
    [redirect, answer] = deadlines.deadlines_of(facts, book, utc(2026, 3, 20, 6))
    assert (redirect.rule, redirect.due) == ("redirect", utc(2026, 3, 27, 18, 59, 59))
    # Answer: 15 working days: 20, 26, 27, 30, 31 March, 1-3, 6-10, 13, 14 April.
    assert (answer.rule, answer.due) == ("answer", utc(2026, 4, 14, 18, 59, 59))


def test_a_report_after_19_00_utc_counts_from_the_next_kazakh_day(book: DeadlineBook) -> None:
    # 21:30 UTC on Wed 25 Nov is 02:30 on Thu 26 Nov in Kazakhstan: day 1 is Fri 27 Nov.
    late = deadlines.due_at(book.rules.redirect, utc(2026, 11, 25, 21, 30), book.calendar)
    early = deadlines.due_at(book.rules.redirect, utc(2026, 11, 25, 12, 0), book.calendar)
    assert early == utc(2026, 11, 30, 18, 59, 59)  # 26, 27, 30 Nov
    assert late == utc(2026, 12, 1, 18, 59, 59)  # 27, 30 Nov, 1 Dec


def test_independence_day_moves_the_answer_deadline(book: DeadlineBook) -> None:
    # From Wed 25 Nov 2026: 26, 27 | 30 Nov-4 Dec | 7-11 | 14, 15, (16 holiday), 17.
    assert deadlines.due_at(book.rules.answer, utc(2026, 11, 25, 6), book.calendar) == utc(2026, 12, 17, 18, 59, 59)


def test_which_rules_are_pending_and_which_is_next(book: DeadlineBook) -> None:
    created = utc(2026, 11, 25, 6)
    fresh_urgent = CaseFacts(created, "new", True, None, None)
    assert deadlines.pending_rules(fresh_urgent, book.rules) == ["acknowledge", "forward_crime", "answer"]
    nearest = deadlines.next_deadline(fresh_urgent, book, created + timedelta(minutes=90))
    assert nearest is not None and (nearest.rule, nearest.state) == ("forward_crime", "due_soon")
    assert deadlines.next_deadline(fresh_urgent, book, created + timedelta(hours=3)).state == "overdue"  # type: ignore[union-attr]
    forwarded = CaseFacts(created, "forwarded", True, "other", created)
    assert deadlines.pending_rules(forwarded, book.rules) == []
    assert deadlines.next_deadline(CaseFacts(created, "closed", False, None, None), book, created) is None


def test_the_cut_off_agrees_with_each_case_s_own_deadline(book: DeadlineBook) -> None:
    """created_before (used in SQL) and due_at (used per row) give the same answer, hour by hour."""
    for now in (utc(2026, 3, 27, 19, 30), utc(2026, 11, 25, 0, 30), utc(2026, 11, 25, 21, 30), utc(2027, 1, 5, 12)):
        for name in deadlines.RULE_NAMES:
            rule = book.rules.rule(name)
            cut = deadlines.created_before(rule, now, book.calendar)
            for hours_back in range(0, 24 * 40, 5):
                created = now - timedelta(hours=hours_back, minutes=17)
                assert (created < cut) == (deadlines.due_at(rule, created, book.calendar) < now), (name, now, created)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_worked_saturday_counts(tmp_path: Path) -> None:
    path = _write(tmp_path, "cal.yaml", """years: [2026]
transfers:
  - {date: 2026-11-21, kind: working_day, reason: "worked for Monday"}
  - {date: 2026-11-23, kind: day_off, reason: "bridge day"}
""")
    calendar = load_work_calendar(path)
    assert calendar.is_working_day(date(2026, 11, 21)) and not calendar.is_working_day(date(2026, 11, 23))
    assert calendar.add_working_days(date(2026, 11, 19), 3) == date(2026, 11, 24)  # 20, 21 (Sat), 24


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("years: [2026]\ntransfers:\n  - {date: 2026-11-25, kind: working_day, reason: x}\n", 3, "working day already"),
        ("years: [2026]\nholidays:\n  - {date: 2026-01-01, name: NY}\n  - {date: 2027-01-01, name: NY}\n", 4,
         "outside the years"),
        ("years: [2026]\nholidays:\n  - {date: 2026-13-01, name: bad}\n", 3, "date"),
        ("years: [2026]\nholidays:\n  - {date: 2026-01-01, name: NY\n", 4, "not valid YAML"),
        ("years: [2026]\nweekend: [saturday, sundae]\n", 2, "weekend"),
    ],
)
def test_a_wrong_calendar_names_the_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = _write(tmp_path, "work_calendar.yaml", text)
    with pytest.raises(ConfigFileError) as error:
        load_work_calendar(path)
    assert f"{path}:{line}:" in str(error.value) and words in str(error.value)


@pytest.mark.parametrize(
    ("edit", "line", "words"),
    [
        (("    hours: 24\n", "    hours: 24\n    working_days: 1\n"), 22, "either hours or working_days"),
        (("    working_days: 15\n", "    working_days: -2\n"), 41, "greater than 0"),
        (("    categories: [other]\n", "    categories: [other, gossip]\n"), 37, "unknown gossip"),
        (("  answer:\n", "  reply:\n"), 39, "reply"),
    ],
)
def test_a_wrong_rule_table_names_the_file_and_line(tmp_path: Path, edit: tuple[str, str], line: int,
                                                    words: str) -> None:
    text = RULES.read_text(encoding="utf-8")
    assert edit[0] in text
    path = _write(tmp_path, "deadlines.yaml", text.replace(edit[0], edit[1], 1))
    with pytest.raises(ConfigFileError) as error:
        deadlines.load_rules(path)
    message = str(error.value)
    assert str(path) in message and words in message, message
    assert f":{line}:" in message, message
