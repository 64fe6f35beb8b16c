"""An urgent case nobody claims within N minutes is reported to the supervisors once (issue 12.1).

The sweeper does it, so it happens with no browser open. The clock is moved with time-machine;
the webhook's far end is a real HTTP server on 127.0.0.1; the case is opened by the worker's jobs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from ivr import accounts
from ivr.accounts import Principal
from ivr.cases import casework
from ivr.models import Case
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.workers.test_jobs_support import WebhookReceiver, add_intake, audit_actions, run_jobs, use_settings
from workers.deps import WorkerDeps
from workers.sweeper import sweep

START = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)  # 02:30 in Kazakhstan: nobody is watching a screen


def _cases(deps: WorkerDeps) -> dict[str | None, Case]:
    with deps.sessions() as session:
        return {case.region_code: case for case in session.scalars(select(Case))}


def _sweep_and_work(deps: WorkerDeps) -> list[int]:
    report = sweep(deps.sessions, deps.queue, settings=deps.settings)
    run_jobs(deps.queue)
    return report.escalations


def _events(receiver: WebhookReceiver) -> list[dict[str, object]]:
    return [json.loads(body) for body in receiver.bodies]


def test_an_unclaimed_urgent_case_is_escalated_once_after_n_minutes(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    with time_machine.travel(START, tick=True) as clock, WebhookReceiver() as receiver:
        deps = use_settings(deps, urgent_webhook_url=receiver.url, urgent_unclaimed_after_min=10)
        with deps.sessions.begin() as session:
            operator = accounts.create_operator(session, username="erlan", password="x" * 12, regions=["02"])
            person = Principal.of(operator)
        add_intake(deps, fake_api, is_urgent=True, region_code=None)  # nobody: escalated
        add_intake(deps, fake_api, is_urgent=True, region_code="02")  # claimed in time: never escalated
        add_intake(deps, fake_api, is_urgent=False, region_code="13")  # not urgent: never
        run_jobs(deps.queue)
        cases = _cases(deps)
        first_notices = [e for e in _events(receiver) if "event" not in e]
        assert sorted(e["case_id"] for e in first_notices) == sorted([cases[None].id, cases["02"].id])

        assert _sweep_and_work(deps) == []
        clock.shift(timedelta(minutes=5))
        with deps.sessions.begin() as session:
            casework.claim(session, person, session.get_one(Case, cases["02"].id))
        clock.shift(timedelta(minutes=4, seconds=50))
        assert _sweep_and_work(deps) == []  # 9 min 50 s: not yet

        clock.shift(timedelta(seconds=15))
        assert _sweep_and_work(deps) == [cases[None].id]
        escalated = [e for e in _events(receiver) if e.get("event") == "urgent_unclaimed"]
        assert escalated == [{
            "event": "urgent_unclaimed", "audience": "supervisors", "case_id": cases[None].id,
            "reference": cases[None].reference, "region_code": None, "unclaimed_minutes": 10,
            "threshold_minutes": 10,
        }]

        for _ in range(3):  # later sweeps, hours later: nothing more
            clock.shift(timedelta(hours=1))
            assert _sweep_and_work(deps) == []
        assert len([e for e in _events(receiver) if e.get("event")]) == 1
        assert _cases(deps)[None].escalated_at is not None
        assert _cases(deps)["02"].escalated_at is None and _cases(deps)["13"].escalated_at is None
        assert audit_actions(deps.sessions).count("case.escalated") == 1


def test_a_refused_escalation_is_retried_and_stamped_once(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    with (time_machine.travel(START, tick=True) as clock, WebhookReceiver() as first,
          WebhookReceiver(fail_first=1) as duty):
        deps = use_settings(deps, urgent_webhook_url=first.url, urgent_unclaimed_after_min=3)
        add_intake(deps, fake_api, is_urgent=True, region_code="05")
        run_jobs(deps.queue)
        deps = use_settings(deps, urgent_webhook_url=duty.url)  # refuses the escalation once
        clock.shift(timedelta(minutes=4))
        assert sweep(deps.sessions, deps.queue, settings=deps.settings).escalations == [_cases(deps)["05"].id]
        run_jobs(deps.queue, until=lambda: _cases(deps)["05"].escalated_at is not None)
        for _ in range(2):
            clock.shift(timedelta(minutes=5))
            assert sweep(deps.sessions, deps.queue, settings=deps.settings).escalations == []
            run_jobs(deps.queue)
        assert [json.loads(b)["event"] for b in duty.bodies] == ["urgent_unclaimed", "urgent_unclaimed"]
        assert audit_actions(deps.sessions).count("case.escalated") == 1


def test_no_webhook_no_escalation_jobs(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    with time_machine.travel(START, tick=True) as clock:
        deps = use_settings(deps, urgent_webhook_url="", urgent_unclaimed_after_min=1)
        add_intake(deps, fake_api, is_urgent=True, region_code=None)
        run_jobs(deps.queue)
        clock.shift(timedelta(minutes=30))
        assert sweep(deps.sessions, deps.queue, settings=deps.settings).escalations == []
