"""`ivr twilio configure`: the official client sets a number's voice, fallback and status URLs, against the fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.twilio_setup import TwilioSetupError, configure_number, make_client
from tests.admin.conftest import BUSINESS_NUMBER, PUBLIC_NUMBER
from tests.conftest import PUBLIC_BASE_URL
from tests.support.fake_twilio_api import FakeTwilioApi, twilio_client_for

PUBLIC_SID = "PN" + "1" * 32
BUSINESS_SID = "PN" + "2" * 32
OTHER_SID = "PN" + "3" * 32


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi() as api:
        api.add_number(PUBLIC_SID, PUBLIC_NUMBER, voice_url="https://old.example/voice", voice_method="GET")
        api.add_number(BUSINESS_SID, BUSINESS_NUMBER)
        api.add_number(OTHER_SID, "+14155550100")
        yield api


@pytest.fixture
def twilio_env(fake: FakeTwilioApi) -> dict[str, str]:
    return {"TWILIO_ACCOUNT_SID": fake.account_sid, "TWILIO_AUTH_TOKEN": fake.auth_token,
            "twilio_api_base": fake.base_url}


def test_configure_sets_all_three_urls_with_post(ivr, fake: FakeTwilioApi, twilio_env) -> None:  # type: ignore[no-untyped-def]
    run = ivr("twilio", "configure", "--number", PUBLIC_NUMBER, **twilio_env)

    assert run.code == 0, run.err
    number = fake.number(PUBLIC_SID)
    assert number is not None
    assert number["voice_url"] == f"{PUBLIC_BASE_URL}/voice/incoming" and number["voice_method"] == "POST"
    assert number["voice_fallback_url"] == f"{PUBLIC_BASE_URL}/voice/fallback"
    assert number["voice_fallback_method"] == "POST"
    assert number["status_callback"] == f"{PUBLIC_BASE_URL}/voice/status"
    assert number["status_callback_method"] == "POST"
    assert f"Voice URL:        POST {PUBLIC_BASE_URL}/voice/incoming" in run.out
    assert "(was: https://old.example/voice)" in run.out
    # Looked up by number, then updated by SID, all with the account's credentials.
    assert [r.method for r in fake.requests_matching(path_contains="IncomingPhoneNumbers")] == ["GET", "POST"]
    assert all(r.auth_ok for r in fake.requests)
    assert fake.number(OTHER_SID)["voice_url"] == ""  # type: ignore[index]


def test_dry_run_changes_nothing(ivr, fake: FakeTwilioApi, twilio_env) -> None:  # type: ignore[no-untyped-def]
    run = ivr("twilio", "configure", "--number", PUBLIC_NUMBER, "--dry-run", **twilio_env)
    assert run.code == 0 and "would be" in run.out
    assert fake.number(PUBLIC_SID)["voice_url"] == "https://old.example/voice"  # type: ignore[index]
    assert not fake.requests_matching("POST")


def test_all_lines_configures_every_number_in_lines_yaml(ivr, fake: FakeTwilioApi, twilio_env,  # type: ignore[no-untyped-def]
                                                         two_lines: Path) -> None:
    run = ivr("twilio", "configure", "--all-lines", "--base-url", "https://line.example.kz",
              flow_path=str(two_lines / "flow.yaml"), **twilio_env)
    assert run.code == 0, run.err
    for sid in (PUBLIC_SID, BUSINESS_SID):
        assert fake.number(sid)["voice_url"] == "https://line.example.kz/voice/incoming"  # type: ignore[index]


def test_a_number_outside_lines_yaml_is_configured_with_a_note(ivr, fake: FakeTwilioApi, twilio_env) -> None:  # type: ignore[no-untyped-def]
    run = ivr("twilio", "configure", "--number", "+14155550100", **twilio_env)
    assert run.code == 0
    assert "is not in" in run.out and "default line (public)" in run.out


def test_unknown_number_and_bad_credentials_fail_clearly(ivr, fake: FakeTwilioApi, twilio_env) -> None:  # type: ignore[no-untyped-def]
    unknown = ivr("twilio", "configure", "--number", "+77000000000", **twilio_env)
    assert unknown.code == 1 and "is not a number of account" in unknown.err

    wrong = ivr("twilio", "configure", "--number", PUBLIC_NUMBER,
                **{**twilio_env, "TWILIO_AUTH_TOKEN": "wrong-token"})
    assert wrong.code == 1 and "HTTP 401" in wrong.err
    assert fake.number(PUBLIC_SID)["voice_url"] == "https://old.example/voice"  # type: ignore[index]

    missing = ivr("twilio", "configure", **twilio_env)
    assert missing.code == 2 and "--number" in missing.err
    no_base = ivr("twilio", "configure", "--number", PUBLIC_NUMBER, public_base_url="", **twilio_env)
    assert no_base.code == 1 and "IVR_PUBLIC_BASE_URL" in no_base.err


def test_configure_number_through_the_official_client(fake: FakeTwilioApi, make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(twilio_account_sid=fake.account_sid, twilio_auth_token=fake.auth_token,
                             twilio_api_base=fake.base_url)
    client = make_client(settings)
    assert client.api.base_url == fake.base_url
    before, after = configure_number(client, BUSINESS_NUMBER, "https://ivr.example.kz/")
    assert before.voice_url == "" and after.voice_url == "https://ivr.example.kz/voice/incoming"
    assert after.sid == BUSINESS_SID
    with pytest.raises(TwilioSetupError, match=r"not an E\.164 number"):
        configure_number(twilio_client_for(fake), "8 717 214 14 25", "https://ivr.example.kz")


def test_the_fallback_url_can_live_on_another_host(ivr, fake: FakeTwilioApi, twilio_env) -> None:  # type: ignore[no-untyped-def]
    run = ivr("twilio", "configure", "--number", PUBLIC_NUMBER, "--fallback-base-url", "https://fallback.example.kz",
              **twilio_env)

    assert run.code == 0, run.err
    number = fake.number(PUBLIC_SID)
    assert number is not None
    assert number["voice_url"] == f"{PUBLIC_BASE_URL}/voice/incoming"
    assert number["voice_fallback_url"] == "https://fallback.example.kz/voice/fallback"


def test_a_fallback_on_the_primary_host_is_warned_about(ivr, fake: FakeTwilioApi, twilio_env) -> None:  # type: ignore[no-untyped-def]
    run = ivr("twilio", "configure", "--number", PUBLIC_NUMBER, **twilio_env)
    assert run.code == 0 and "fallback" in run.err and "--fallback-base-url" in run.err
