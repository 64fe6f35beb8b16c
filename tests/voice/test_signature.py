"""Every webhook checks X-Twilio-Signature; anything forged gets 403 and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from ivr.models import Call, Intake
from ivr.voice.signature import SignedForm
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL
from tests.support.twilio_sim import FlaskTransport, Press, Talk, TwilioSimulator, new_sid

WEBHOOKS = ["/voice/incoming", "/voice/step", "/voice/recorded", "/voice/recording-status", "/voice/status",
            "/voice/fallback", "/voice/fallback/recorded"]


def count(app, model) -> int:  # type: ignore[no-untyped-def]
    with app.extensions["ivr"].sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def recording_form(twilio: TwilioSimulator) -> dict[str, str]:
    form = twilio.voice_form(new_sid("CA"), "+77012345678", "+77172141424", None)
    form.update(RecordingSid=new_sid("RE"), RecordingStatus="completed", RecordingDuration="30")
    return form


@pytest.mark.parametrize("path", WEBHOOKS)
def test_unsigned_request_is_refused(twilio: TwilioSimulator, path: str) -> None:
    status, _ = twilio.post(path, recording_form(twilio), sign=False)
    assert status == 403


@pytest.mark.parametrize("path", WEBHOOKS)
def test_forged_signature_is_refused_and_stores_nothing(app, twilio: TwilioSimulator, path: str) -> None:
    forged = TwilioSimulator(FlaskTransport(app.test_client()), auth_token="not-our-token",
                             public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID)
    status, _ = forged.post(path, recording_form(twilio))
    assert status == 403
    assert count(app, Call) == count(app, Intake) == 0
    assert app.extensions["ivr"].redis.keys("*") == []


def test_signature_over_other_parameters_is_refused(app, twilio: TwilioSimulator) -> None:
    form = recording_form(twilio)
    signature = twilio.sign(twilio.url("/voice/recording-status"), form)
    form["RecordingDuration"] = "999"  # tampered after signing
    status, _ = twilio.post("/voice/recording-status", form, signature=signature)
    assert status == 403 and count(app, Intake) == 0


def test_signature_for_another_host_is_refused(app) -> None:
    elsewhere = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN,
                                public_base_url="https://attacker.example", account_sid=ACCOUNT_SID)
    status, _ = elsewhere.post("/voice/incoming", elsewhere.voice_form(new_sid("CA"), "+7701", "+7717", None))
    assert status == 403


def test_behind_tls_proxy_the_public_https_url_is_what_counts(client, twilio: TwilioSimulator) -> None:
    # The app is reached over plain http (as behind a TLS-terminating proxy); Twilio signed https.
    form = twilio.voice_form(new_sid("CA"), "+77012345678", "+77172141424", None)
    signature = twilio.sign(f"{PUBLIC_BASE_URL}/voice/incoming", form)
    response = client.post("http://10.0.0.5:8000/voice/incoming", data=form,
                           headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200 and b"<Gather" in response.data


def test_missing_auth_token_refuses_every_webhook(make_settings, sqlite_url) -> None:
    from ivr.app import create_app

    app = create_app(make_settings(database_url=sqlite_url, twilio_auth_token=""))
    sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token="", public_base_url=PUBLIC_BASE_URL)
    status, _ = sim.post("/voice/incoming", sim.voice_form(new_sid("CA"), "+7701", "+7717", None))
    assert status == 403
    app.extensions["ivr"].close()


def test_checking_can_be_switched_off_for_local_development_only_loudly(make_settings, sqlite_url, caplog) -> None:
    from ivr.app import create_app

    app = create_app(make_settings(database_url=sqlite_url, verify_signatures=False))
    sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token="x", public_base_url=PUBLIC_BASE_URL)
    status, _ = sim.post("/voice/incoming", sim.voice_form(new_sid("CA"), "+7701", "+7717", None), sign=False)
    assert status == 200
    assert "signature checking is OFF" in caplog.text
    app.extensions["ivr"].close()


@pytest.mark.parametrize("path", WEBHOOKS)
def test_webhooks_accept_post_only(client, path: str) -> None:
    assert client.get(path + "?CallSid=CA" + "0" * 32).status_code == 405


def test_state_token_from_another_call_cannot_steer_this_one(app, twilio: TwilioSimulator) -> None:
    first = twilio.call([Press("2"), Press("1"), Press("02"), Talk(20)])
    record_url = next(url for url, *_ in first.requests if "/voice/recorded" in url)
    form = twilio.voice_form(new_sid("CA"), "+77012345678", "+77172141424", None)
    form.update(RecordingSid=new_sid("RE"), RecordingDuration="30", RecordingUrl="https://api.twilio.com/x")
    status, body = twilio.post(record_url, form)  # validly signed, but the token belongs to another call
    assert status == 200 and "<Record" in body  # the fallback: the caller can still report
    assert count(app, Intake) == 1


def test_repeated_and_non_ascii_fields_are_signed_as_twilio_signs_them(client, twilio: TwilioSimulator) -> None:
    # Twilio signs every value of a repeated field; SpeechResult arrives in Cyrillic and Kazakh.
    form = twilio.voice_form(new_sid("CA"), "+77012345678", "+77172141424", None)
    form.update(SpeechResult="Алматы, Қазақстан", Confidence="0.9")
    pairs = [*form.items(), ("StirVerstat", "TN-Validation-Passed-A"), ("StirVerstat", "TN-Validation-Passed-B")]
    url = f"{PUBLIC_BASE_URL}/voice/incoming"
    signature = twilio.validator.compute_signature(url, MultiDict(pairs))
    assert client.post("/voice/incoming", data=MultiDict(pairs),
                       headers={"X-Twilio-Signature": signature}).status_code == 200
    dropped = MultiDict(pairs[:-1])  # one of the repeated values lost on the way: not what was signed
    assert client.post("/voice/incoming", data=dropped, headers={"X-Twilio-Signature": signature}).status_code == 403


def test_signed_form_reads_as_the_validator_reads_a_multidict() -> None:
    form = MultiDict([("b", "2"), ("a", "1"), ("a", "0"), ("c", "Қ")])
    validator = RequestValidator(AUTH_TOKEN)
    url = f"{PUBLIC_BASE_URL}/voice/step?s=abc"
    assert validator.compute_signature(url, SignedForm(form)) == validator.compute_signature(url, form)
    assert validator.compute_signature(url, SignedForm(MultiDict())) == validator.compute_signature(url, {})
