"""Issue 11, item 4: the case shows whether the reporter heard the reference and PIN to the end.

The line waits one second just after the numbers; the webhook that follows ("heard") is the proof
the caller was still there. A caller who hangs up during them files the report all the same, and
the case says "the reporter did not hear the reference".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ivr.cases.case import case_view
from ivr.models import Call, Case
from tests.support.twilio_sim import Hangup, Press, Silence, Talk, TwilioSimulator
from tests.voice.test_followup import msg, spoken_after

REPORT = [Press("2"), Press("1"), Press("02"), Talk(20), Press("3")]


def call_and_case(app: Any, reference: str) -> tuple[Call, bool]:
    """The call row, and whether its case page would flag the reference as not heard."""
    with app.extensions["ivr"].sessions.begin() as session:
        call = session.scalars(select(Call).where(Call.reference == reference)).one()
        case = Case(call_id=call.id, reference=reference, status="new", region_code="02", language="ru",
                    is_anonymous=call.is_anonymous)
        session.add(case)
        session.flush()
        flagged = case_view(session, case).reference_not_heard
        assert call.intakes  # the report is filed whatever the caller heard
        session.expunge(call)
    return call, flagged


def test_a_caller_who_stays_to_the_end_heard_the_numbers(app: Any, twilio: TwilioSimulator) -> None:
    result = twilio.call([*REPORT, Silence()])
    assert result.ended_by == "hangup-verb"
    reference = spoken_after(result.said(), msg(app, "reference_is"))
    call, flagged = call_and_case(app, reference)
    assert (call.reference_spoken, call.reference_heard, call.status) == (True, True, "completed")
    assert not flagged


def test_a_caller_who_hangs_up_during_the_numbers_still_files_the_report(app: Any, twilio: TwilioSimulator) -> None:
    result = twilio.call([*REPORT, Hangup()])
    assert result.ended_by == "caller"
    reference = spoken_after(result.said(), msg(app, "reference_is"))
    call, flagged = call_and_case(app, reference)
    assert (call.reference_spoken, call.reference_heard) == (True, False)
    assert flagged


def test_hearing_them_again_is_hearing_them(app: Any, twilio: TwilioSimulator) -> None:
    # "1" at the menu after the numbers: they are read again, and heard out again.
    result = twilio.call([*REPORT, Press("1"), Silence()])
    reference = spoken_after(result.said(), msg(app, "reference_is"))
    assert result.said().count(msg(app, "reference_is")) == 2
    call, flagged = call_and_case(app, reference)
    assert call.reference_heard is True and not flagged


def test_the_case_page_says_it(app: Any, twilio: TwilioSimulator) -> None:
    from tests.operator.console import Console, sign_in

    result = twilio.call([*REPORT, Hangup()])
    reference = spoken_after(result.said(), msg(app, "reference_is"))
    call_and_case(app, reference)
    console = Console(app)
    console.add_user("sup", role="supervisor", locale="ru")
    client = app.test_client()
    sign_in(client, "sup")
    with app.extensions["ivr"].sessions() as session:
        case_id = session.scalar(select(Case.id).where(Case.reference == reference))
    page = client.get(f"/operator/cases/{case_id}", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert 'data-testid="reference-not-heard"' in page
    assert "Заявитель не дослушал номер обращения и ПИН-код." in page
