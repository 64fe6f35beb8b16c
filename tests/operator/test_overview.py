"""The supervisors' overview: reports per day and region, waiting times, where callers hang up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from ivr.accounts import Principal
from ivr.cases import statistics as case_statistics
from ivr.db import utc_now
from ivr.models import CaseDetail
from tests.operator.console import Console, post_form
from tests.support.twilio_sim import EmptyRecording, Hangup, Press, Silence, Talk

# Dates here are Kazakhstan dates: run at several hours of the UTC day (see the clock fixture).
pytestmark = pytest.mark.usefixtures("clock")

def test_figures_per_day_region_and_waits(console: Console, make_client) -> None:
    now = utc_now()
    console.add_user("dana", role="supervisor")
    handled = console.add_case(region="02", created_at=now - timedelta(hours=2))
    console.add_case(region="02", created_at=now - timedelta(days=2))
    console.add_case(region="13", created_at=now - timedelta(days=2))
    console.add_case(region="13", created_at=now - timedelta(days=40))  # outside the window
    post_form(make_client("dana"), f"/operator/cases/{handled.id}/claim")
    with console.svc.sessions.begin() as session:
        session.execute(update(CaseDetail).where(CaseDetail.case_id == handled.id)
                        .values(first_handled_at=now - timedelta(hours=1)))
    with console.svc.sessions() as session:
        from ivr.accounts import get_operator

        figures = case_statistics.overview(session, Principal.of(get_operator(session, "dana")), days=30, now=now)
    assert len(figures.days) == 30 and sum(n for _, n in figures.days) == 3
    assert figures.days[-1][1] == 1 or figures.days[-2][1] == 1  # today in Kazakhstan (UTC+5)
    assert dict(figures.regions) == {"02": 2, "13": 1}
    assert figures.waits.handled == 1 and round(figures.waits.median_s or 0) == 3600
    assert figures.waits.waiting_now == 3


def test_dropped_calls_per_menu_step_from_real_calls(app, twilio, console: Console, make_client) -> None:
    console.add_user("dana", role="supervisor")
    twilio.call([Press("2")])  # hangs up at the anonymity menu
    twilio.call([Press("2"), Press("1")])  # hangs up when asked for the region
    # Silence() lets the short guidance before the beep play out.
    twilio.call([Press("2"), Press("1"), Press("02"), Silence(), EmptyRecording(), Hangup(0)])  # silent, hangs up
    twilio.call([Press("2"), Press("1"), Press("02"), Talk(12), Press("3"), Silence()])  # a report: not dropped
    twilio.call([Press("2"), Press("1"), Press("02"), Silence(), Hangup(8)])  # recorded then hung up: not dropped
    with console.svc.sessions() as session:
        from ivr.accounts import get_operator

        figures = case_statistics.overview(session, Principal.of(get_operator(session, "dana")))
    dropped = {(node, status): n for node, status, n in figures.dropped}
    assert dropped == {("anonymity", "completed"): 1, ("region", "completed"): 1, ("record", "completed"): 1}, dropped
    assert figures.calls_total == 5
    page = make_client("dana").get("/operator/overview").get_data(as_text=True)
    assert page.count('<svg class="chart"') >= 2 and "anonymity · положил трубку" in page


def test_operators_overview_counts_only_their_regions(console: Console) -> None:
    console.add_user("aigerim", regions=["02"])
    console.add_case(region="02")
    console.add_case(region="13")
    with console.svc.sessions() as session:
        from ivr.accounts import get_operator

        figures = case_statistics.overview(session, Principal.of(get_operator(session, "aigerim")))
    assert dict(figures.regions) == {"02": 1} and figures.dropped == []
