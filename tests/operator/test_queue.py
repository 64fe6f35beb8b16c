"""The queue: urgent pinned, new first, filters, paging, waiting counts, the live fragment."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ivr.cases.queue import PAGE_SIZE
from ivr.db import utc_now
from ivr.display_time import local_time
from tests.operator.console import Console, post_form

# Dates here are Kazakhstan dates: run at several hours of the UTC day (see the clock fixture).
pytestmark = pytest.mark.usefixtures("clock")

def _ids(body: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-case="(\d+)"', body)]


def test_urgent_open_cases_are_pinned_then_the_oldest_first(console: Console, make_client) -> None:
    """A work list (issue 12.2): the report waiting longest comes first, whatever its status."""
    console.add_user("aigerim")
    now = utc_now()
    old_new = console.add_case(created_at=now - timedelta(hours=5))
    reviewed = console.add_case(created_at=now - timedelta(hours=9))
    urgent_old = console.add_case(is_urgent=True, created_at=now - timedelta(minutes=3))
    fresh_new = console.add_case(created_at=now - timedelta(minutes=10))
    client = make_client("aigerim")
    post_form(client, f"/operator/cases/{reviewed.id}/claim")
    order = _ids(client.get("/operator/").get_data(as_text=True))
    assert order == [urgent_old.id, reviewed.id, old_new.id, fresh_new.id]


def test_rows_show_region_language_time_duration_transcript_and_anonymity(console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02"])
    console.add_case(language="kk", is_anonymous=True, audio_s=65, transcript="failed")
    console.add_case(language="en", is_anonymous=False, contact="77010000000", transcript=None)
    body = make_client("aigerim").get("/operator/").get_data(as_text=True)
    for text in ("Алматы", "Казахский", "Английский", "1:05", "Ошибка", "Готовится", "Анонимно", "С контактом"):
        assert text in body, text
    assert "77010000000" not in body


def test_filters_by_status_region_language_and_date(console: Console, make_client) -> None:
    console.add_user("dana", role="supervisor")
    now = utc_now()
    kk_almaty = console.add_case(region="02", language="kk")
    ru_karaganda = console.add_case(region="13", language="ru", created_at=now - timedelta(days=10))
    unknown = console.add_case(region=None)
    client = make_client("dana")
    post_form(client, f"/operator/cases/{unknown.id}/status", {"status": "closed", "reason": "test_call"})

    def ids(query: str) -> set[int]:
        return set(_ids(client.get("/operator/" + query).get_data(as_text=True)))

    assert ids("") == {kk_almaty.id, ru_karaganda.id}  # closed ones leave the default view
    assert ids("?status=closed") == {unknown.id}
    assert ids("?status=") == {kk_almaty.id, ru_karaganda.id, unknown.id}
    assert ids("?region=13") == {ru_karaganda.id}
    assert ids("?status=&region=none") == {unknown.id}
    assert ids("?language=kk") == {kk_almaty.id}
    # The console's dates are Kazakhstan's, not UTC's: from 19:00 UTC Almaty is a day ahead.
    day = local_time(now - timedelta(days=10)).date()  # type: ignore[union-attr]
    today = local_time(now).date()  # type: ignore[union-attr]
    assert ids(f"?from={day}&to={day}") == {ru_karaganda.id}
    assert ids(f"?from={day - timedelta(days=1)}&to={day + timedelta(days=1)}") == {ru_karaganda.id}
    assert ids(f"?from={today}&status=") == {kk_almaty.id, unknown.id}
    assert ids(f"?from={today + timedelta(days=1)}") == set()
    assert ids("?status=bogus&region=99&language=xx&from=never") == {kk_almaty.id, ru_karaganda.id}


def test_paging(console: Console, make_client) -> None:
    console.add_user("aigerim")
    refs = [console.add_case(transcript=None, disguise=False) for _ in range(PAGE_SIZE + 2)]
    client = make_client("aigerim")
    first = client.get("/operator/").get_data(as_text=True)
    second = client.get("/operator/?page=2").get_data(as_text=True)
    assert len(_ids(first)) == PAGE_SIZE and len(_ids(second)) == 2
    assert set(_ids(first)) | set(_ids(second)) == {ref.id for ref in refs}
    assert "Страница 1 из 2" in first and "?page=2" in first


def test_waiting_counts_per_region_only_for_visible_regions(console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02", "13"])
    for region in ("02", "02", "13", "05"):
        console.add_case(region=region, transcript=None)
    body = make_client("aigerim").get("/operator/queue/live").get_data(as_text=True)
    assert re.search(r'data-testid="waiting-total">3<', body)
    assert re.search(r"Алматы <b>2</b>", body) and re.search(r"Карагандинская область <b>1</b>", body)
    assert "Акмолинская" not in body


def test_live_fragment_shows_new_reports_without_a_full_page(console: Console, make_client) -> None:
    console.add_user("aigerim")
    client = make_client("aigerim")
    assert "Обращений нет." in client.get("/operator/queue/live").get_data(as_text=True)
    ref = console.add_case()
    fragment = client.get("/operator/queue/live?status=open").get_data(as_text=True)
    assert _ids(fragment) == [ref.id] and "<html" not in fragment
    assert 'id="queue-live"' in client.get("/operator/").get_data(as_text=True)
