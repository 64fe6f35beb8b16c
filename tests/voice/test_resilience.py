"""The line always answers: Redis down, concurrent duplicate callbacks, broken state, the fallback URL."""

from __future__ import annotations

import threading

from sqlalchemy import select

from ivr.models import PENDING, QUEUED, AuditEvent, Call, Intake
from tests.support.services import RedisServer
from tests.support.twilio_sim import Hangup, Press, Silence, Talk, TwilioSimulator, new_sid


def rows(app, model):  # type: ignore[no-untyped-def]
    with app.extensions["ivr"].sessions() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def test_redis_down_mid_call_still_records_and_leaves_intake_pending(app, twilio: TwilioSimulator,
                                                                     redis_server: RedisServer) -> None:
    first = twilio.call([Press("2")], call_sid=new_sid("CA"))  # Redis up: fine
    assert first.requests[0][2] == 200
    redis_server.stop()
    try:
        result = twilio.call([Press("2"), Press("1"), Press("02"), Talk(30), Press("3"), Silence()])
    finally:
        redis_server.start()
    assert result.ended_by == "hangup-verb"
    assert all(status in (200, 204) for _, _, status, _ in result.requests)
    [intake] = rows(app, Intake)
    assert intake.is_ready and intake.status == PENDING and "enqueue failed" in (intake.last_error or "")
    assert [c.reference for c in rows(app, Call) if c.reference]


def test_ten_concurrent_duplicate_status_callbacks_make_one_intake_and_one_job(app, twilio: TwilioSimulator,
                                                                              settings) -> None:
    result = twilio.call([Press("2"), Press("1"), Press("02"), Talk(30), Press("3")], call_sid=new_sid("CA"))
    twilio.recording_callbacks = "never"
    callback = next((url, form) for url, form, *_ in result.requests if "/voice/recording-status" in url)
    # Replay the same signed callback ten times at once, each through its own client (own connection).
    from ivr.app import create_app
    from tests.support.twilio_sim import FlaskTransport

    apps = [create_app(settings) for _ in range(3)]
    statuses: list[int] = []

    def replay(index: int) -> None:
        sim = TwilioSimulator(FlaskTransport(apps[index % 3].test_client()), auth_token=twilio.auth_token,
                              public_base_url=twilio.public_base_url, account_sid=twilio.account_sid)
        status, _ = sim.post(callback[0], callback[1])
        statuses.append(status)

    threads = [threading.Thread(target=replay, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [204] * 10
    [intake] = rows(app, Intake)
    assert intake.status == QUEUED
    assert len([e for e in rows(app, AuditEvent) if e.action == "intake.recorded"]) == 1
    assert app.extensions["ivr"].queue.job_ids == [f"intake-{intake.id}"]
    for other in apps:
        other.extensions["ivr"].close()


def test_fallback_url_takes_a_report_in_russian_and_kazakh(app, twilio: TwilioSimulator) -> None:
    twilio.voice_path = "/voice/fallback"
    result = twilio.call([Talk(40)], from_="+77015550000")

    assert any("расскажите" in text for text in result.said())
    assert any(url.split("?")[0].endswith("/kk/record_guidance.wav") for url in result.played())
    said = " ".join(result.said())
    assert "Номер обращения." in said and "ПИН-код." in said
    [call] = rows(app, Call)
    assert call.is_anonymous and call.contact_ciphertext is None and call.flow_version == "fallback"
    [intake] = rows(app, Intake)
    assert intake.status == QUEUED


def test_fallback_caller_who_hangs_up_mid_report_still_has_one(app, twilio: TwilioSimulator) -> None:
    twilio.voice_path = "/voice/fallback"
    twilio.call([Hangup(recorded_s=20)])
    assert len(rows(app, Intake)) == 1


def test_unreadable_state_falls_back_to_recording(app, twilio: TwilioSimulator) -> None:
    form = twilio.voice_form(new_sid("CA"), "+77012345678", "+77172141424", None)
    form["Digits"] = "1"
    status, body = twilio.post("/voice/step?s=not-a-token", form)
    assert status == 200 and "<Record" in body and "/voice/fallback/recorded" in body


def test_malformed_call_sid_is_a_bad_request(twilio: TwilioSimulator) -> None:
    form = twilio.voice_form(new_sid("CA"), "+7701", "+7717", None)
    form["CallSid"] = "../../etc"
    status, _ = twilio.post("/voice/incoming", form)
    assert status == 400
