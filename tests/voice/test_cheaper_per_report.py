"""Cheaper per report: one PIN hash per call however often Twilio repeats a callback, and a slow
webhook measured from the request's arrival (the balancer's X-Request-Start), not from the view."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ivr.app import create_app
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL
from tests.support.twilio_sim import FlaskTransport, Press, Talk, TwilioSimulator, new_sid


def test_duplicate_record_callbacks_compute_no_pin_hash(app: Any, twilio: TwilioSimulator,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pins = app.extensions["ivr"].pins
    hashed: list[str] = []
    real = pins.hash

    def counting(pin: str) -> str:
        hashed.append(pin)
        return real(pin)

    monkeypatch.setattr(pins, "hash", counting)  # a spy: the hash itself is unchanged
    result = twilio.call([Press("2"), Press("1"), Press("02"), Talk(20), Press("3")], call_sid=new_sid("CA"))
    first = len(hashed)
    callbacks = [(url, form) for url, form, *_ in result.requests
                 if "/voice/recording-status" in url or "/voice/recorded" in url]
    assert callbacks and first == 1  # the call's one PIN

    for url, form in callbacks * 3:  # Twilio retries each callback
        assert twilio.post(url, form)[0] in (200, 204)

    assert len(hashed) == first


@pytest.mark.parametrize("unit", ["us", "ms", "s"])
def test_webhook_slow_counts_the_wait_before_the_app(make_settings: Any, sqlite_url: str, caplog: Any,
                                                     unit: str) -> None:
    app = create_app(make_settings(database_url=sqlite_url, webhook_budget_ms=500))
    sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN,
                          public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID)
    arrived = time.time() - 0.9  # queued 0.9 s at the balancer and in gunicorn's backlog
    stamp = {"us": f"t={int(arrived * 1e6)}", "ms": f"t={int(arrived * 1e3)}", "s": f"t={arrived:.3f}"}[unit]
    url = sim.url("/voice/incoming")
    form = sim.voice_form(new_sid("CA"), "+77012345678", "+77172141424", None)
    try:
        status, _ = sim.transport.post(url, form, {**sim.headers(url, form), "X-Request-Start": stamp})
    finally:
        app.extensions["ivr"].close()
    assert status == 200
    [slow] = [r for r in caplog.records if r.getMessage() == "webhook.slow"]
    assert 850 <= getattr(slow, "elapsed_ms", 0) < 5000 and getattr(slow, "queued_ms", 0) >= 850


def test_a_nonsense_or_skewed_request_start_is_ignored(make_settings: Any, sqlite_url: str, caplog: Any) -> None:
    app = create_app(make_settings(database_url=sqlite_url, webhook_budget_ms=500))
    sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN,
                          public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID)
    url = sim.url("/voice/incoming")
    try:
        for stamp in ("t=abc", f"t={int((time.time() + 60) * 1e6)}", "t=1", "t=²³"):
            form = sim.voice_form(new_sid("CA"), "+77012345678", "+77172141424", None)
            status, _ = sim.transport.post(url, form, {**sim.headers(url, form), "X-Request-Start": stamp})
            assert status == 200
    finally:
        app.extensions["ivr"].close()
    assert not [r for r in caplog.records if r.getMessage() == "webhook.slow"]
