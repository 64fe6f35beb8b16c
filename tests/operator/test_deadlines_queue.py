"""Deadlines in the console: each row's age and deadline, overdue rows marked in colour and words,
the overview's overdue counts and the supervisors' workload page, on SQLite and PostgreSQL.

The `clock` fixture runs each test on Wed 25 Nov 2026 at 00:30, 12:00 and 21:30 UTC (05:30, 17:00
and 02:30 next day in Kazakhstan). The calendar is the shipped one plus a worked Saturday (21 Nov)
and a transfer day off (Tue 24 Nov), so both kinds of "перенос" sit inside the counted days.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ivr.accounts import Principal
from ivr.cases import casework
from ivr.db import utc_now
from ivr.models import Case, Operator
from ivr.settings import Settings
from tests.conftest import ROOT
from tests.operator.console import Console, post_form

pytestmark = pytest.mark.usefixtures("clock")

TRANSFERS = """
  - {date: 2026-11-21, kind: working_day, reason: "test: a Saturday worked"}
  - {date: 2026-11-24, kind: day_off, reason: "test: the day off it bought"}
"""


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> Settings:
    """The app's settings with the test calendar (the shipped one and two transfers in November)."""
    shipped = (ROOT / "config" / "work_calendar.yaml").read_text(encoding="utf-8")
    calendar = tmp_path / "work_calendar.yaml"
    calendar.write_text(shipped.rstrip() + "\n" + TRANSFERS.strip("\n") + "\n", encoding="utf-8")
    return make_settings(database_url=database_url, work_calendar_path=calendar)


def kz(day: int, hour: int, month: int = 11) -> datetime:
    """A time in Kazakhstan (UTC+5) in 2026, as UTC."""
    return datetime(2026, month, day, hour, tzinfo=UTC) - timedelta(hours=5)


def _take(console: Console, username: str, case_id: int, *, category: str | None = None) -> None:
    with console.svc.sessions.begin() as session:
        person = Principal.of(session.query(Operator).filter_by(username=username).one())
        case = session.get_one(Case, case_id)
        casework.claim(session, person, case)
        if category:
            casework.set_category(session, person, case, category)


@pytest.fixture
def world(console: Console) -> dict[str, Any]:
    console.add_user("aigerim", regions=["02"])
    console.add_user("bolat", regions=["02"])
    console.add_user("dana", role="supervisor")
    console.add_user("erlan", regions=["05"])  # holds nothing
    now = utc_now()
    cases = {
        # Answer: 15 working days from 4 Nov: 4-6, 9-13, 16-20, 21 (Sat), 23 -> due Mon 23 Nov 23:59.
        "answer_overdue": console.add_case(created_at=kz(3, 10)),
        # From 5 Nov: 5, 6, 9-13, 16-20, 21, 23, (24 off), 25 -> due Wed 25 Nov 23:59 = 18:59:59 UTC.
        "answer_today": console.add_case(created_at=kz(4, 10)),
        # Redirect: 3 working days from Fri 20: 20, Sat 21, Mon 23 -> due 23 Nov (25 without the transfers).
        "redirect": console.add_case(created_at=kz(19, 9)),
        # Acknowledge within 24 h of 08:00 UTC on 24 Nov: overdue at 12:00 and 21:30 UTC, not at 00:30.
        "unacknowledged": console.add_case(created_at=datetime(2026, 11, 24, 8, tzinfo=UTC)),
        # An urgent case taken 3 h ago but not forwarded: past its 2 hours.
        "urgent": console.add_case(is_urgent=True, created_at=now - timedelta(hours=3)),
        # Closed long ago: no deadline.
        "closed": console.add_case(created_at=kz(1, 10, month=10)),
        # Just in and taken: answer by 15 working days, over Independence Day (Wed 16 Dec).
        "fresh": console.add_case(created_at=now - timedelta(minutes=1)),
    }
    _take(console, "aigerim", cases["answer_overdue"].id)
    _take(console, "aigerim", cases["answer_today"].id)
    _take(console, "bolat", cases["redirect"].id, category="other")
    _take(console, "bolat", cases["urgent"].id)
    _take(console, "dana", cases["fresh"].id)
    with console.svc.sessions.begin() as session:
        session.get_one(Case, cases["closed"].id).status = "closed"
    return cases


def _expected_overdue(world: dict[str, Any]) -> set[str]:
    now = utc_now()
    expected = {"answer_overdue", "redirect", "urgent"}
    if now > datetime(2026, 11, 25, 18, 59, 59, tzinfo=UTC):
        expected.add("answer_today")
    if now > datetime(2026, 11, 25, 8, tzinfo=UTC):
        expected.add("unacknowledged")
    return expected


def _rows(body: str) -> dict[int, str]:
    """case id -> the row's HTML."""
    found = re.finditer(r'<tr class="[^"]*" data-case="(\d+)">.*?</tr>', body, re.S)
    return {int(m.group(1)): m.group(0) for m in found}


def test_rows_show_age_deadline_and_overdue_in_colour_and_words(
    app: Any, console: Console, world: dict[str, Any], make_client: Any
) -> None:
    body = make_client("dana").get("/operator/?status=").get_data(as_text=True)
    rows = _rows(body)
    overdue = {name for name, ref in world.items() if "dl-overdue" in rows[ref.id].split(">")[0]}
    assert overdue == _expected_overdue(world)
    for name in overdue:
        assert "Просрочено на" in rows[world[name].id], name  # said in words, not by colour alone
    assert "Просрочено" not in rows[world["closed"].id]
    redirect_row = rows[world["redirect"].id]
    assert "23.11.2026 23:59" in redirect_row and "перенаправить по компетенции" in redirect_row
    today_row = rows[world["answer_today"].id]
    assert "25.11.2026 23:59" in today_row and "дать ответ" in today_row
    ages = re.findall(r'data-testid="age">([^<]*)<', rows[world["urgent"].id])
    assert ages == ["3 ч"]


def test_the_api_gives_each_row_its_next_deadline(app: Any, console: Console, world: dict[str, Any]) -> None:
    token = console.token_for("dana")
    cases = app.test_client().get("/api/cases?status=&page_size=50",
                                  headers={"Authorization": f"Bearer {token}"}).get_json()["cases"]
    by_id = {row["id"]: row["deadline"] for row in cases}
    assert by_id[world["redirect"].id] == {"rule": "redirect", "due_at": "2026-11-23T18:59:59Z", "state": "overdue"}
    assert by_id[world["answer_overdue"].id]["due_at"] == "2026-11-23T18:59:59Z"
    assert by_id[world["answer_today"].id]["due_at"] == "2026-11-25T18:59:59Z"
    assert by_id[world["unacknowledged"].id]["rule"] == "acknowledge"
    assert by_id[world["urgent"].id]["rule"] == "forward_crime"
    assert by_id[world["closed"].id] is None
    # In by 19:00 UTC it is 25 Nov in Kazakhstan: 26, 27 | 30 Nov-4 Dec | 7-11 | 14, 15, (16), 17 Dec;
    # at 21:30 UTC it is already 26 Nov, and the 15th working day is 18 Dec.
    fresh_due = "2026-12-17T18:59:59Z" if utc_now().hour < 19 else "2026-12-18T18:59:59Z"
    assert by_id[world["fresh"].id] == {"rule": "answer", "due_at": fresh_due, "state": "ok"}
    overdue = {name for name, ref in world.items() if (by_id[ref.id] or {}).get("state") == "overdue"}
    assert overdue == _expected_overdue(world)


def test_the_overview_counts_what_the_rows_show(
    app: Any, console: Console, world: dict[str, Any], make_client: Any
) -> None:
    body = make_client("dana").get("/operator/overview").get_data(as_text=True)
    total = re.search(r'data-testid="overdue-total".*?<b>(\d+)</b>', body, re.S)
    assert total and int(total.group(1)) == len(_expected_overdue(world))
    counts = {rule: int(n) for rule, n in re.findall(r'<b data-rule="(\w+)">(\d+)</b>', body)}
    late_evening = utc_now() > datetime(2026, 11, 25, 18, 59, 59, tzinfo=UTC)
    after_8 = utc_now() > datetime(2026, 11, 25, 8, tzinfo=UTC)
    assert counts == {"acknowledge": int(after_8), "forward_crime": 1, "redirect": 1, "answer": 1 + late_evening}
    assert 'data-testid="workload-link"' in body


def test_workload_per_person_for_supervisors_only(
    app: Any, console: Console, world: dict[str, Any], make_client: Any
) -> None:
    assert make_client("aigerim").get("/operator/workload").status_code == 403
    body = make_client("dana").get("/operator/workload").get_data(as_text=True)
    people = {}
    for row in re.finditer(r'<tr data-operator="(\w+)">(.*?)</tr>', body, re.S):
        numbers = re.findall(r'data-testid="(open|overdue)">(?:<b>)?(\d+)', row.group(2))
        people[row.group(1)] = {kind: int(n) for kind, n in numbers}
    ids = {name: _id(console, name) for name in ("aigerim", "bolat", "dana", "erlan")}
    late_evening = utc_now() > datetime(2026, 11, 25, 18, 59, 59, tzinfo=UTC)
    after_8 = utc_now() > datetime(2026, 11, 25, 8, tzinfo=UTC)
    assert people[str(ids["aigerim"])] == {"open": 2, "overdue": 1 + late_evening}
    assert people[str(ids["bolat"])] == {"open": 2, "overdue": 2}
    assert people[str(ids["dana"])] == {"open": 1, "overdue": 0}
    assert people[str(ids["erlan"])] == {"open": 0, "overdue": 0}  # idle people are listed too
    assert people["none"] == {"open": 1, "overdue": int(after_8)}
    # Most overdue first, after the unassigned row.
    order = re.findall(r'<tr data-operator="(\w+)">', body)
    assert order[0] == "none" and order[-1] == str(ids["erlan"])
    overdue_in_order = [people[key]["overdue"] for key in order[1:]]
    assert overdue_in_order == sorted(overdue_in_order, reverse=True)


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_workload_speaks_three_languages(app: Any, console: Console, world: dict[str, Any], make_client: Any,
                                        lang: str) -> None:
    client = make_client("dana")
    post_form(client, "/operator/locale", {"locale": lang, "next": "/operator/workload"})
    body = client.get("/operator/workload").get_data(as_text=True)
    words = {"kk": ("Жүктеме", "Ешкім алмаған"), "ru": ("Нагрузка", "Никем не взяты"),
             "en": ("Workload", "Not taken by anyone")}
    for word in words[lang]:
        assert word in body


def _id(console: Console, username: str) -> int:
    with console.svc.sessions() as session:
        return int(session.query(Operator).filter_by(username=username).one().id)


def test_the_case_page_lists_every_pending_deadline(app: Any, console: Console, world: dict[str, Any],
                                                    make_client: Any) -> None:
    body = make_client("dana").get(f"/operator/cases/{world['redirect'].id}").get_data(as_text=True)
    found = re.search(r'data-testid="case-deadlines">(.*?)</dd>', body, re.S)
    assert found, body[:500]
    text = re.sub(r"<[^>]+>", " ", found.group(1))
    # Redirect by Mon 23 Nov (the worked Saturday counts), answer by 15 working days from 20 Nov.
    assert "23.11.2026 23:59 · перенаправить по компетенции" in " ".join(text.split())
    assert "Просрочено на" in text and "дать ответ" in text
    assert 'data-testid="case-deadlines"' not in make_client("dana").get(
        f"/operator/cases/{world['closed'].id}").get_data(as_text=True)
