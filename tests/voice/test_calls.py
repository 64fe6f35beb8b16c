"""Whole calls through the real webhooks, driven by the Twilio stand-in, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ivr.cases.reference import is_valid_reference
from ivr.crypto import Cipher
from ivr.intake import contact_context
from ivr.models import PENDING, QUEUED, AuditEvent, Call, Intake
from tests.support.twilio_sim import (
    DialResult,
    EmptyRecording,
    Hangup,
    Press,
    Silence,
    Speak,
    Talk,
    TwilioSimulator,
)

CALLER = "+77012345678"


def rows(app, model):  # type: ignore[no-untyped-def]
    with app.extensions["ivr"].sessions() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def msg(app, key: str, language: str = "ru") -> str:  # type: ignore[no-untyped-def]
    """A message as the current flow says it."""
    return app.extensions["ivr"].flows.current.message(key, language).text  # type: ignore[no-any-return]


def spoken_digits(said: list[str], label: str) -> str:
    """The digits said right after a label, e.g. the reference after "Номер обращения."."""
    index = next(i for i, text in enumerate(said) if text.startswith(label))
    return said[index + 1].replace(", ", "").rstrip(".")


def test_russian_anonymous_report_end_to_end(app, twilio: TwilioSimulator) -> None:
    result = twilio.call([Press("2"), Press("1"), Press("02"), Talk(25), Press("3"), Silence()], from_=CALLER)

    assert result.ended_by == "hangup-verb"
    said = result.said()
    assert said[-1] == "Спасибо за звонок. До свидания."
    reference = spoken_digits(said, "Номер обращения")
    pin = spoken_digits(said, "ПИН-код")
    assert is_valid_reference(reference) and len(pin) == 6

    [call] = rows(app, Call)
    assert call.reference == reference
    pins = app.extensions["ivr"].pins
    assert pins.verify(call.pin_hash, pin) and not pins.verify(call.pin_hash, "000000" if pin != "000000" else "111111")
    assert (call.language, call.region_code, call.is_anonymous, call.contact_ciphertext) == ("ru", "02", True, None)
    assert call.status == "completed" and call.last_node == "goodbye"
    [intake] = rows(app, Intake)
    assert intake.recording_sid == result.recordings[0]
    assert intake.is_ready and intake.status == QUEUED and intake.duration_s == 25
    queue = app.extensions["ivr"].queue
    assert queue.job_ids == [f"intake-{intake.id}"]
    job = queue.fetch_job(f"intake-{intake.id}")
    assert job.func_name == "workers.intake.process_intake" and job.args == (intake.id,)


def test_kazakh_call_plays_audio_prompts_and_reads_digits_as_files(app, twilio: TwilioSimulator) -> None:
    result = twilio.call([Press("1"), Press("1"), Speak("Қарағанды"), Press("1"), Talk(12), Press("3"), Silence()])

    played = [url.split("/voice/prompts/")[1].split("?")[0] for url in result.played()]
    assert played[0] == "kk/welcome.wav"
    assert "kk/record_guidance.wav" in played and "kk/goodbye.wav" in played
    assert not [text for text in result.said() if text not in _bilingual_intro(app)]
    reference = "".join(p.split("/")[-1][0] for p in played[played.index("kk/reference_is.wav") + 1 :][:8])
    assert rows(app, Call)[0].reference == reference
    assert rows(app, Call)[0].region_code == "13"


def _bilingual_intro(app) -> set[str]:  # type: ignore[no-untyped-def]
    flow = app.extensions["ivr"].flows.current
    return {flow.message(key, lang).text for key in ("welcome", "press_for_language") for lang in ("ru", "en")}


def test_english_named_caller_keeps_calling_number_encrypted(app, twilio: TwilioSimulator, settings) -> None:
    result = twilio.call([Press("3"), Press("2"), Press("1"), Press("01"), Talk(30), Press("3")], from_=CALLER)

    assert "For English, press 3." in result.said()
    assert any(text.startswith("Your case number is") for text in result.said())
    [call] = rows(app, Call)
    assert call.is_anonymous is False and call.language == "en" and call.region_code == "01"
    assert call.contact_ciphertext and b"7012345678" not in call.contact_ciphertext
    plain = Cipher(settings.data_keys).decrypt(call.contact_ciphertext, context=contact_context(call.call_sid))
    assert plain == b"77012345678"


def test_named_caller_keys_in_another_number(app, twilio: TwilioSimulator, settings) -> None:
    keys = ["2", "2", "2", "123", "87771234567", "17"]
    twilio.call([*(Press(k) for k in keys), Talk(9), Press("3")])

    [call] = rows(app, Call)
    plain = Cipher(settings.data_keys).decrypt(call.contact_ciphertext, context=contact_context(call.call_sid))
    assert plain == b"87771234567" and call.region_code == "17"


def test_bad_keypress_repeats_the_prompt_and_silence_defaults_safely(app, twilio: TwilioSimulator) -> None:
    result = twilio.call([Press("7"), Press("2"), Silence(), Press("*"), Press("99"),
                          Speak("Кызылорда"), Press("1"), Talk(10), Press("3")])

    said = result.said()
    assert said.count(msg(app, "invalid_input")) == 2  # the 7 at the language menu (kk, then ru), and 99
    assert said.count(msg(app, "no_input")) == 0  # silence is asked once, without a complaint
    region_names = app.extensions["ivr"].flows.current.doc.regions
    assert f"{region_names[0].names['ru']}." in said and f"{region_names[-1].names['ru']}." in said  # the list
    [call] = rows(app, Call)
    assert call.is_anonymous is True  # silence at the anonymity menu keeps the caller anonymous
    assert call.region_code == "15"


def test_urgent_caller_without_duty_officer_goes_straight_to_recording(app, twilio: TwilioSimulator) -> None:
    result = twilio.call([Press("2"), Press("0"), Talk(40), Press("3")])

    assert not [e for e in result.events if e[0] == "dial"]  # no duty officer configured
    [call] = rows(app, Call)
    assert call.is_urgent and call.is_anonymous and call.region_code is None


def test_urgent_caller_is_transferred_and_recorded_when_officer_busy(tmp_path, make_settings, database_url) -> None:
    from ivr.app import create_app
    from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL
    from tests.support.twilio_sim import FlaskTransport

    flow = (tmp_path / "flow.yaml")
    source = (make_settings().flow_path).read_text(encoding="utf-8")
    flow.write_text(source.replace('duty_officer: ""', 'duty_officer: "+77172000000"'), encoding="utf-8")
    app = create_app(make_settings(database_url=database_url, flow_path=flow))
    sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN,
                          public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID)
    busy = sim.call([Press("2"), Press("0"), DialResult("busy"), Talk(30), Press("3")])
    answered = sim.call([Press("2"), Press("0"), DialResult("completed", 60)])

    assert [e[1] for e in busy.events if e[0] == "dial"] == ["+77172000000"]
    assert app.extensions["ivr"].flows.current.message("officer_unavailable", "ru").text in busy.said()
    assert answered.said()[-1] == "Спасибо за звонок. До свидания."
    calls = rows(app, Call)
    recorded = [c for c in calls if c.reference]
    assert len(recorded) == 1 and recorded[0].is_urgent
    app.extensions["ivr"].close()


def test_review_listen_and_rerecord_keeps_one_reference(app, twilio: TwilioSimulator) -> None:
    result = twilio.call([Press("2"), Press("1"), Press("05"), Talk(20), Press("1"), Press("2"), Talk(30), Press("3")])

    assert any("/Recordings/RE" in url for url in result.played())  # playback of the first recording
    [call] = rows(app, Call)
    intakes = rows(app, Intake)
    assert len(intakes) == 2 and {i.call_id for i in intakes} == {call.id}  # both recordings kept: nothing lost
    assert spoken_digits(result.said(), "Номер обращения") == call.reference


def test_too_short_recording_gets_one_retry(app, twilio: TwilioSimulator) -> None:
    result = twilio.call([Press("2"), Press("1"), Press("03"), Talk(1), Talk(2), Press("3")])

    assert msg(app, "too_short") in result.said()
    assert len(rows(app, Intake)) == 2 and rows(app, Call)[0].reference


def test_silent_recording_gets_a_second_chance_then_a_polite_goodbye(app, twilio: TwilioSimulator) -> None:
    result = twilio.call([Press("2"), Press("1"), Press("03"), EmptyRecording(), EmptyRecording()])

    assert result.ended_by == "hangup-verb"
    assert msg(app, "no_recording") in result.said()
    assert result.said()[-1].endswith("До свидания.")
    assert rows(app, Intake) == []


def test_caller_who_hangs_up_while_recording_still_has_a_report(app, twilio: TwilioSimulator) -> None:
    # Silence while the guidance plays (a key would skip it), then a hang-up in the middle of the report.
    result = twilio.call([Press("2"), Press("1"), Press("03"), Silence(), Hangup(recorded_s=35)])

    assert result.ended_by == "caller"
    [intake] = rows(app, Intake)
    assert intake.is_ready and intake.status == QUEUED and intake.duration_s == 35
    assert rows(app, Call)[0].reference


@pytest.mark.parametrize("mode", ["after_action", "before_action", "twice", "after_call", "never"])
def test_callbacks_in_any_order_give_one_call_and_one_intake(app, twilio: TwilioSimulator, mode: str) -> None:
    twilio.recording_callbacks = mode
    result = twilio.call([Press("2"), Press("1"), Press("02"), Talk(20), Press("3")])

    [call] = rows(app, Call)
    [intake] = rows(app, Intake)
    assert spoken_digits(result.said(), "Номер обращения") == call.reference
    assert intake.is_ready is (mode != "never")
    assert intake.status == (PENDING if mode == "never" else QUEUED)
    recorded = [e for e in rows(app, AuditEvent) if e.action == "intake.recorded"]
    assert len(recorded) == 1
    assert len(app.extensions["ivr"].queue.job_ids) == (0 if mode == "never" else 1)


def test_call_dropped_in_the_menu_is_counted_at_its_node(app, twilio: TwilioSimulator) -> None:
    twilio.call([Press("2")])  # hangs up at the anonymity menu

    [call] = rows(app, Call)
    assert call.reference is None and call.last_node == "anonymity" and call.status == "completed"
