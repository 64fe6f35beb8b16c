"""Issue 18: no TWILIO_AUTH_TOKEN (or a placeholder account SID) refuses every call, so /readyz says so."""

from __future__ import annotations

import pytest

from ivr.settings import PLACEHOLDER_ACCOUNT_SID
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.twilio_sim import FlaskTransport, TwilioSimulator, new_sid

DEV_URL = "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("token", "sid", "reason"),
    [("", ACCOUNT_SID, "TWILIO_AUTH_TOKEN"), (AUTH_TOKEN, PLACEHOLDER_ACCOUNT_SID, "TWILIO_ACCOUNT_SID"),
     (AUTH_TOKEN, "", "TWILIO_ACCOUNT_SID")],
    ids=["no-token", "placeholder-sid", "no-sid"],
)
def test_readyz_is_503_with_the_reason(make_settings, sqlite_url, token: str, sid: str, reason: str) -> None:
    from ivr.app import create_app

    app = create_app(make_settings(database_url=sqlite_url, public_base_url=DEV_URL,
                                   twilio_auth_token=token, twilio_account_sid=sid))
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] == "down" and reason in body["checks"]["twilio"]
        assert body["checks"]["database"] == "ok"  # the rest is honest too
    finally:
        app.extensions["ivr"].close()


def test_without_a_token_calls_are_refused_and_readyz_agrees(make_settings, sqlite_url) -> None:
    from ivr.app import create_app

    app = create_app(make_settings(database_url=sqlite_url, public_base_url=DEV_URL, twilio_auth_token=""))
    try:
        sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token="", public_base_url=DEV_URL)
        for path in ("/voice/incoming", "/voice/fallback"):
            status, _ = sim.post(path, sim.voice_form(new_sid("CA"), "+77012345678", "+77172141424", None))
            assert status == 403
        assert app.test_client().get("/readyz").status_code == 503
    finally:
        app.extensions["ivr"].close()


def test_real_credentials_are_ready(client) -> None:
    body = client.get("/readyz").get_json()
    assert body["status"] == "ok" and body["checks"]["twilio"] == "ok"
