"""Issue 11, item 7, through the signed webhooks: a caller who presses 0 hears the officers on duty
rung in turn (chained <Dial>s), and when nobody answers leaves a report the worker opens as urgent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from flask import Flask

from ivr.settings import Settings
from ivr.twilio_standin.player import DialResult, Press, Silence, Talk
from ivr.twilio_standin.rest_api import FakeTwilioApi
from tests.conftest import ROOT
from tests.workers.test_e2e_support import cases, simulator
from tests.workers.test_jobs_support import run_jobs
from workers.deps import WorkerDeps

FIRST, SECOND = "+77172000001", "+77172000002"
ROTA = f'duty_officer: [{{days: weekdays, hours: "09:00-18:00", numbers: ["{FIRST}", "{SECOND}"]}}]'


@pytest.fixture
def e2e_settings(worker_settings: Callable[..., Settings], fake_api: FakeTwilioApi, tmp_path: Path) -> Settings:
    """conftest's settings for `wired_app` and `e2e_deps`, with two officers on a weekday rota."""
    text = (ROOT / "config" / "flow.yaml").read_text(encoding="utf-8")
    flow = tmp_path / "flow.yaml"
    flow.write_text(text.replace('duty_officer: ""', ROTA), encoding="utf-8")
    return worker_settings(transcriber="none", flow_path=flow)


def test_nobody_answering_on_the_rota_leaves_an_urgent_report(
    wired_app: Flask, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    script = [Press("2"), Press("0"), DialResult("no-answer"), DialResult("busy"), Silence(), Talk(8),
              Press("3"), Silence()]
    with time_machine.travel(datetime(2026, 11, 25, 10, 0, tzinfo=UTC), tick=True):  # Wed 15:00 in Almaty
        result = simulator(wired_app, fake_api).call(script)
        run_jobs(e2e_deps.queue)
    dialled = [event[1] for event in result.events if event[0] == "dial"]
    assert dialled == [FIRST, SECOND]
    assert "Дежурный сейчас не может ответить. Мы запишем ваше сообщение и отметим его как срочное." in result.said()
    [case] = cases(e2e_deps.sessions)
    assert case.is_urgent and case.is_anonymous


def test_at_night_the_caller_goes_straight_to_the_urgent_recording(
    wired_app: Flask, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    script = [Press("2"), Press("0"), Silence(), Talk(8), Press("3"), Silence()]
    with time_machine.travel(datetime(2026, 11, 25, 20, 0, tzinfo=UTC), tick=True):  # Thu 01:00 in Almaty
        result = simulator(wired_app, fake_api).call(script)
        run_jobs(e2e_deps.queue)
    assert not [event for event in result.events if event[0] == "dial"]
    assert not any("не может ответить" in text for text in result.said())
    assert "Мы запишем ваше сообщение и отметим его как срочное." in result.said()
    [case] = cases(e2e_deps.sessions)
    assert case.is_urgent
