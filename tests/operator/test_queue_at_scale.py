"""The work list over years of reports (issue 12.6): a broad search reads its page in the list's
own order, probing the search index case by case, and the count stops a thousand matches past the
page; on SQLite and PostgreSQL. bench/console.py times it at a million cases."""

from __future__ import annotations

import re
from typing import Any

import psycopg.sql
import pytest
from flask import Flask
from sqlalchemy import event, select, text

from ivr.accounts import Principal, get_operator
from ivr.cases import queue, search
from ivr.cases.queue import QueueFilters, list_cases
from ivr.models import Case
from tests.operator.console import Console


def _ids(body: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-case="(\d+)"', body)]


def _cases(console: Console, count: int, **kwargs: Any) -> list[int]:
    return [console.add_case(disguise=False, audio_s=1, **kwargs).id for _ in range(count)]


def test_a_common_word_probed_case_by_case_finds_what_the_index_range_finds(
    console: Console, make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    console.add_user("aigerim", regions=["02"])
    spoken = _cases(console, 3) + _cases(console, 1, is_urgent=True)  # their transcripts speak of "взятке"
    silent = _cases(console, 2, transcript=None)
    elsewhere = _cases(console, 1, region="05")  # not aigerim's region
    client = make_client("aigerim")

    def found(**args: str) -> list[int]:
        response = client.get("/operator/", query_string={"status": "", **args})
        assert response.status_code == 200
        return _ids(response.get_data(as_text=True))

    as_a_range = found(q="взятку"), found(q="взятку акимат"), found(q="взятку нет-такого-слова")
    monkeypatch.setattr(search, "COMMON_WORD_CASES", 1)  # every word now counts as common
    as_probes = found(q="взятку"), found(q="взятку акимат"), found(q="взятку нет-такого-слова")
    assert as_probes == as_a_range
    assert as_probes[0] == [spoken[3], *spoken[:3]]  # the urgent one first, then oldest first
    assert as_probes[2] == []
    assert not set(as_probes[0]) & set(silent + elsewhere)


def test_the_count_stops_past_the_page_and_the_pages_go_on(
    app: Flask, console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    console.add_user("aigerim", regions=["02"])
    cases = _cases(console, 7)
    monkeypatch.setattr(queue, "COUNT_AHEAD", 3)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {console.token_for('aigerim')}"}

    def page(number: int) -> dict[str, Any]:
        response = api.get("/api/cases", query_string={"page": number, "page_size": 2}, headers=headers)
        assert response.status_code == 200
        return response.json

    seen, shown = [], []
    for number in range(1, 6):
        answer = page(number)
        seen += [row["id"] for row in answer["cases"]]
        shown.append((answer["page"], answer["total"], answer["total_capped"], answer["pages"]))
    # Counted three past each page's start: a floor while more follow, the true count at the end.
    assert shown == [(1, 3, True, 2), (2, 5, True, 3), (3, 7, False, 4), (4, 7, False, 4), (4, 7, False, 4)]
    assert seen[:7] == cases  # every case once, oldest first, across the capped pages


def test_the_console_says_more_than_and_offers_the_next_page(
    console: Console, make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    console.add_user("aigerim", regions=["02"], locale="ru")
    cases = _cases(console, queue.PAGE_SIZE + 2, transcript=None)
    monkeypatch.setattr(queue, "COUNT_AHEAD", 1)  # at least a page past this one is still counted
    client = make_client("aigerim")
    first = client.get("/operator/").get_data(as_text=True)
    assert f"Найдено: больше {queue.PAGE_SIZE}" in first
    assert "Страница 1<" in first and "page=2" in first
    second = client.get("/operator/", query_string={"page": 2}).get_data(as_text=True)
    assert f"Найдено: {queue.PAGE_SIZE + 2}" in second and "Страница 2 из 2" in second
    assert _ids(first) + _ids(second) == cases


def test_a_page_is_read_in_order_from_the_work_order_index(app: Flask, console: Console) -> None:
    """The rank in the ORDER BY must be the index's expression, or PostgreSQL sorts every match."""
    console.add_user("aigerim", regions=["02"])
    _cases(console, 3, transcript=None)
    svc = app.extensions["ivr"]
    engine = svc.engine
    statements: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, params))

    with svc.sessions() as session:
        person = Principal.of(get_operator(session, "aigerim"))
        event.listen(engine, "before_cursor_execute", grab)
        try:
            list_cases(session, person, QueueFilters(status=""))
        finally:
            event.remove(engine, "before_cursor_execute", grab)
        page_query = next(s for s in statements if "ORDER BY" in s[0] and "LIMIT" in s[0] and "call_id" in s[0])
        raw = session.connection().connection.dbapi_connection
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            # With sorting priced out, only an index in the right order can serve the page; and as
            # a prepared statement's generic plan, which sees no bound value (psycopg prepares a
            # statement it has run five times).
            for setting in ("enable_sort", "enable_seqscan", "enable_bitmapscan"):
                cursor.execute(f"SET LOCAL {setting} = off")
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            statement, params = page_query
            names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
            numbered = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", statement)
            kinds = {bool: "boolean", int: "bigint", str: "text"}
            types = ", ".join(kinds[type(params[name])] for name in names)
            cursor.execute(f"PREPARE work_page ({types}) AS {numbered}")
            values = psycopg.sql.SQL(", ").join(psycopg.sql.Literal(params[name]) for name in names)
            cursor.execute(psycopg.sql.SQL("EXPLAIN EXECUTE work_page ({})").format(values))
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("DEALLOCATE work_page")
            assert "ix_cases_work_order" in plan and "Sort" not in plan, plan
        else:
            # SQLite plans small tables its own way: ask whether the index can serve the order at all.
            ordered = select(Case.id).order_by(queue.work_rank(), Case.created_at, Case.id)
            sql = str(ordered.compile(engine, compile_kwargs={"literal_binds": True}))
            forced = sql.replace("FROM cases", "FROM cases INDEXED BY ix_cases_work_order")
            cursor.execute("EXPLAIN QUERY PLAN " + forced)
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
            assert "ix_cases_work_order" in plan and "TEMP B-TREE" not in plan, plan
        session.rollback()
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            made = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ix_cases_work_order'")).scalar()
            assert queue.WORK_RANK_SQL in made
