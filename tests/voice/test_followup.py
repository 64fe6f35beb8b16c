"""A reporter comes back by phone: reference and PIN, the status in plain words, more information."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.cases import followup
from ivr.cases.reference import damm_digit
from ivr.db import utc_now
from ivr.models import AuditEvent, Call, Case, Intake
from tests.support.twilio_sim import Press, Silence, Talk, TwilioSimulator
from tests.voice.test_anonymity import everything_in_redis, everything_in_the_database

LANGUAGE_KEY = {"kk": "1", "ru": "2", "en": "3"}


def msg(app, key: str, language: str = "ru") -> str:  # type: ignore[no-untyped-def]
    return app.extensions["ivr"].flows.current.message(key, language).text  # type: ignore[no-any-return]


def spoken_after(said: list[str], label: str) -> str:
    index = said.index(label)
    return said[index + 1].replace(", ", "").rstrip(".")


def report(app, twilio: TwilioSimulator, *, named: bool = False) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """File a report by phone and open its case as the worker would; the reference and PIN heard."""
    keys = ["2", "2", "1", "02"] if named else ["2", "1", "02"]
    result = twilio.call([*(Press(k) for k in keys), Talk(30), Press("3"), Silence()])
    reference = spoken_after(result.said(), msg(app, "reference_is"))
    pin = spoken_after(result.said(), msg(app, "pin_is"))
    with app.extensions["ivr"].sessions.begin() as session:
        call = session.scalars(select(Call).where(Call.reference == reference)).one()
        session.add(Case(call_id=call.id, reference=reference, status="in_review", region_code="02",
                         language="ru", is_anonymous=call.is_anonymous))
    return reference, pin


def audit(app, action: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with app.extensions["ivr"].sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.mark.parametrize("language", ["ru", "kk", "en"])
def test_reporter_hears_status_and_adds_information(app, twilio: TwilioSimulator, language: str) -> None:
    reference, pin = report(app, twilio)
    result = twilio.call([Press(LANGUAGE_KEY[language]), Press("9"), Press(reference), Press(pin), Press("1"),
                          Talk(15), Press("3")], from_="+77075554433")

    if language == "kk":
        played = [url.split("/voice/prompts/")[1].split("?")[0] for url in result.played()]
        assert "kk/case_status_in_review.wav" in played and "kk/followup_received.wav" in played
    else:
        assert msg(app, "case_status_in_review", language) in result.said()
        assert msg(app, "followup_received", language) in result.said()
    with app.extensions["ivr"].sessions() as session:
        original = session.scalars(select(Call).where(Call.reference == reference)).one()
        intakes = list(session.scalars(select(Intake).order_by(Intake.id)))
        assert [i.kind for i in intakes] == ["report", "followup"]
        assert {i.call_id for i in intakes} == {original.id}  # joins the same case
        followup_call = session.scalars(select(Call).where(Call.call_sid == result.call_sid)).one()
        assert followup_call.reference is None and followup_call.contact_ciphertext is None
    assert len(audit(app, "followup.verified")) == 1
    assert app.extensions["ivr"].queue.count == 2


def test_followup_of_an_anonymous_case_stores_the_new_number_nowhere(app, twilio: TwilioSimulator) -> None:
    reference, pin = report(app, twilio)
    twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("1"), Talk(15), Press("3")],
                from_="+77019998877", caller_name="Айгуль Сейткали")
    for store in (everything_in_the_database(app), everything_in_redis(app)):
        assert "7019998877" not in store and "Айгуль" not in store


def test_mistyped_reference_is_caught_by_its_check_digit(app, twilio: TwilioSimulator) -> None:
    reference, pin = report(app, twilio)
    wrong = reference[:3] + str((int(reference[3]) + 1) % 10) + reference[4:]
    swapped = reference[:1] + reference[2] + reference[1] + reference[3:]
    result = twilio.call([Press("2"), Press("9"), Press(wrong), Press(swapped if swapped != reference else wrong),
                          Press(reference), Press(pin), Press("3")])
    said = result.said()
    assert said.count(msg(app, "invalid_reference")) == 2
    assert msg(app, "case_status_in_review") in said
    assert audit(app, "followup.pin_failed") == []  # a mistyped reference never reaches the PIN check


def test_three_wrong_pins_end_the_call_politely(app, twilio: TwilioSimulator) -> None:
    reference, pin = report(app, twilio)
    wrong = "0000" if pin != "0000" else "1111"
    result = twilio.call([Press("2"), Press("9"), Press(reference), Press(wrong), Press(wrong), Press(wrong)])
    said = result.said()
    assert said.count(msg(app, "wrong_pin")) == 2
    assert said[-1] == msg(app, "too_many_tries") and result.ended_by == "hangup-verb"
    assert len(audit(app, "followup.pin_failed")) == 3


def test_failures_across_calls_lock_the_reference_until_unlocked(app, twilio: TwilioSimulator, settings) -> None:
    reference, pin = report(app, twilio)
    wrong = "0000" if pin != "0000" else "1111"
    twilio.call([Press("2"), Press("9"), Press(reference), Press(wrong), Press(wrong), Press(wrong)],
                from_="+77010000001")
    twilio.call([Press("2"), Press("9"), Press(reference), Press(wrong), Press(wrong)], from_="+77010000002")
    assert len(audit(app, "followup.locked")) == 1  # 5 failures (the default) across two numbers

    locked = twilio.call([Press("2"), Press("9"), Press(reference), Press(pin)])
    assert msg(app, "wrong_pin") in locked.said()  # the right PIN does not open a locked reference
    assert msg(app, "case_status_in_review") not in locked.said()

    with app.extensions["ivr"].sessions.begin() as session:
        assert followup.unlock(session, reference, actor="operator:1")
    opened = twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("3")])
    assert msg(app, "case_status_in_review") in opened.said()


def test_lock_expires_after_its_period(app, twilio: TwilioSimulator) -> None:
    reference, pin = report(app, twilio)
    with app.extensions["ivr"].sessions.begin() as session:
        call = session.scalars(select(Call).where(Call.reference == reference)).one()
        call.locked_until = utc_now() - timedelta(minutes=1)
    result = twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("3")])
    assert msg(app, "case_status_in_review") in result.said()


def test_reporter_can_ask_for_a_new_pin(app, twilio: TwilioSimulator) -> None:
    reference, pin = report(app, twilio)
    result = twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("2"), Press("3")])
    new = spoken_after(result.said(), msg(app, "new_pin_is"))
    assert len(new) == 6
    pins = app.extensions["ivr"].pins
    with app.extensions["ivr"].sessions() as session:
        call = session.scalars(select(Call).where(Call.reference == reference)).one()
        assert pins.verify(call.pin_hash, new)
        assert new == pin or not pins.verify(call.pin_hash, pin)


def test_named_case_followup_works_the_same(app, twilio: TwilioSimulator) -> None:
    reference, pin = report(app, twilio, named=True)
    result = twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("3")])
    assert msg(app, "case_status_in_review") in result.said()


def test_unknown_reference_answers_like_a_wrong_pin(app, twilio: TwilioSimulator) -> None:
    # The same hashing and writes are proven in tests/security/test_pins_resist_guessing.py.
    reference, _pin = report(app, twilio)
    body = "1234567"
    unknown = body + damm_digit(body)
    if unknown == reference:
        unknown = "7654321" + damm_digit("7654321")
    twilio.call([Press("2"), Press("9"), Press(unknown), Press("123456"), Press("3")])
    said_unknown = twilio.last_result.said() if twilio.last_result else []
    assert msg(app, "wrong_pin") in said_unknown
    assert len(audit(app, "followup.unknown_reference")) == 1


def test_operator_message_is_read_to_the_reporter(app, twilio: TwilioSimulator) -> None:
    reference, pin = report(app, twilio)
    done = followup.LookupDone("ok", case_status="forwarded", reporter_message="Позвоните нам в понедельник.")
    from ivr.flow import engine

    flow = app.extensions["ivr"].flows.current
    state = engine.CallState(flow.version, "followup_check", language="ru", reference=reference, pin=pin)
    step = engine.step(flow, state, done)
    spoken = [p for a in step.actions for p in (a.prompts if isinstance(a, engine.Gather) else (a,))]
    texts = [a.text for a in spoken if isinstance(a, engine.Say)]
    assert msg(app, "case_status_forwarded") in texts
    assert texts[texts.index(msg(app, "reporter_message_intro")) + 1] == "Позвоните нам в понедельник."


def test_message_an_operator_left_is_read_on_the_phone(app, twilio: TwilioSimulator) -> None:
    from ivr.models import ThreadMessage

    reference, pin = report(app, twilio)
    with app.extensions["ivr"].sessions.begin() as session:
        case = session.scalars(select(Case).where(Case.reference == reference)).one()
        session.add(ThreadMessage(call_id=case.call_id, direction="to_reporter", language="ru",
                                  text="Пожалуйста, позвоните нам ещё раз в понедельник."))
    result = twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("3")])
    said = result.said()
    spoken = said[said.index(msg(app, "reporter_message_intro")) + 1]
    assert spoken == "Пожалуйста, позвоните нам ещё раз в понедельник."
