"""`ivr deadlines check`: read config/deadlines.yaml and config/work_calendar.yaml as the console will.

Run it after editing either file (the console shows a wrong file only as a notice above the queue):
it prints each problem with its file and line, or what the files say and which years the calendar
covers, and warns when next year's holidays are still missing in December.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from ivr.cases import deadlines
from ivr.config_file import ConfigFileError
from ivr.display_time import DISPLAY_ZONE
from ivr.settings import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `deadlines check` to the `ivr` command."""
    parser = subparsers.add_parser("deadlines", help="the deadline rules and the working-day calendar")
    sub = parser.add_subparsers(dest="deadlines_command", required=True)
    check = sub.add_parser("check", help="check config/deadlines.yaml and config/work_calendar.yaml")
    check.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    """0 when both files are right (a warning may follow), 1 with one line per problem otherwise."""
    settings = load_settings()
    try:
        book = deadlines.book_for(settings)
    except ConfigFileError as error:
        for problem in str(error).split("; "):
            print(problem, file=sys.stderr)
        return 1
    for line in describe(book, today=date.today()):
        print(line)
    return 0


def describe(book: deadlines.DeadlineBook, *, today: date) -> list[str]:
    """What the files say, in a few lines; a warning line when next year is not covered in December."""
    lines = []
    for name in deadlines.RULE_NAMES:
        rule = book.rules.rule(name)
        measure = f"{rule.hours:g} h" if rule.hours is not None else f"{rule.working_days} working days"
        extra = ""
        if rule.categories:
            extra = f" (categories: {', '.join(rule.categories)})"
        elif rule.applies_to_urgent:
            extra = " (urgent reports)"
        lines.append(f"{name}: {measure}{extra}")
    calendar = book.calendar
    lines.append(
        f"calendar: {', '.join(map(str, calendar.years))}; {len(calendar.holidays)} holidays, "
        f"{len(calendar.transfers)} transfers; weekend {', '.join(calendar.weekend)}; times in {DISPLAY_ZONE}"
    )
    if not calendar.covers(today):
        lines.append(f"warning: the calendar does not cover {today.year}: only weekends count as days off")
    elif today.month == 12 and not calendar.covers(date(today.year + 1, 1, 1)):
        lines.append(f"warning: add {today.year + 1}'s holidays and transfers before the year ends")
    return lines
