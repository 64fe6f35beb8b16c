"""Issue 11, item 7: the duty officer is a rota in Almaty time, rung number by number, with an urgent
recording when nobody answers or nobody is on duty; `ivr flow check` names the uncovered hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from ivr.flow.engine import CallState, Dial, DialEnded, Digits, Event, Gather, NoInput, Play, Say, Step, step
from ivr.flow.loading import parse_flow
from ivr.flow.model import Flow
from ivr.flow.problems import FlowError
from ivr.flow.rota import describe_gaps, gaps
from tests.flow.conftest import FLOW_PATH, OFFICER_NUMBER

DAY, EVENING, NIGHT = "+77172000001", "+77172000002", "+77172000004"
WEEKEND = "+77172000003"
# Weekdays 09:00-18:00 two officers in turn; weekends 10:00-16:00; Wednesday night 22:00 into
# Thursday 03:00 (a shift that starts on one Almaty day and ends on the next).
ROTA = f"""duty_officer:
    - {{days: mon-fri, hours: "09:00-18:00", numbers: ["{DAY}", "{EVENING}"]}}
    - {{days: [sat, sun], hours: "10:00-16:00", numbers: ["{WEEKEND}"]}}
    - {{days: wed, hours: "22:00-03:00", numbers: ["{NIGHT}"]}}"""
# What the `clock` fixture's UTC times are in Almaty (UTC+5) on Wednesday 2026-11-25, and who is on duty:
# 00:30 UTC is Wed 05:30 (nobody), 12:00 UTC is Wed 17:00 (the day shift), 21:30 UTC is already
# Thursday 02:30 in Almaty (the Wednesday night shift, still on).
ON_DUTY_AT = {0: (), 12: (DAY, EVENING), 21: (NIGHT,)}


def with_numbers(numbers: str) -> Flow:
    text = FLOW_PATH.read_text(encoding="utf-8")
    assert 'duty_officer: ""' in text
    return parse_flow(text.replace('duty_officer: ""', numbers), str(FLOW_PATH))


@pytest.fixture(scope="module")
def rota_flow() -> Flow:
    return with_numbers(ROTA)


def press_zero(flow: Flow) -> Step:
    state = CallState(flow_version=flow.version, node="anonymity", language="ru")
    return step(flow, state, Digits("0"))


def said(result: Step) -> list[str]:
    spoken: list[str] = []
    for action in result.actions:
        prompts = action.prompts if isinstance(action, Gather) else (action,)
        spoken += [p.text if isinstance(p, Say) else p.prompt for p in prompts if isinstance(p, Say | Play)]
    return spoken


def assert_voicemail(flow: Flow, result: Step) -> None:
    """Straight to the urgent recording: told it will be marked urgent, never "cannot answer"."""
    assert not any(isinstance(a, Dial) for a in result.actions)
    text = said(result)
    assert text[0] == flow.message("urgent_voicemail", "ru").text
    assert flow.message("officer_unavailable", "ru").text not in text
    assert (result.state.node, result.state.is_urgent, result.state.is_anonymous) == ("region", True, True)
    skipped = step(flow, result.state, NoInput())  # the region is skippable: then the beep
    assert (skipped.state.node, skipped.state.is_urgent) == ("record", True)


def test_the_rota_rings_whoever_is_on_duty_in_almaty_time(rota_flow: Flow, clock: object) -> None:
    expected = ON_DUTY_AT[datetime.now(UTC).hour]
    result = press_zero(rota_flow)
    if not expected:
        assert_voicemail(rota_flow, result)
        return
    assert result.actions[-1] == Dial(expected[0], 25)
    assert result.state.node == "duty_officer"
    # Everyone on duty is rung in turn, then the caller records an urgent report.
    state = result.state
    for number in expected[1:]:
        nobody = step(rota_flow, state, DialEnded("no-answer"))
        assert nobody.actions == (Dial(number, 25),)
        state = nobody.state
    last = step(rota_flow, state, DialEnded("busy"))
    assert said(last)[0] == rota_flow.message("officer_unavailable", "ru").text
    assert (last.state.node, last.state.is_urgent, last.state.dial_attempt) == ("region", True, 0)


def test_the_second_officer_answering_ends_the_call_politely(rota_flow: Flow) -> None:
    with time_machine.travel(datetime(2026, 11, 25, 6, 0, tzinfo=UTC), tick=False):  # Wed 11:00 Almaty
        first = press_zero(rota_flow)
        second = step(rota_flow, first.state, DialEnded("no-answer"))
        answered = step(rota_flow, second.state, DialEnded("completed"))
    assert first.actions[-1] == Dial(DAY, 25) and second.actions == (Dial(EVENING, 25),)
    assert answered.state.node == "goodbye"


def test_a_key_during_connecting_rings_the_officer_whose_turn_it_is(rota_flow: Flow) -> None:
    with time_machine.travel(datetime(2026, 11, 25, 6, 0, tzinfo=UTC), tick=False):
        first = press_zero(rota_flow)
        second = step(rota_flow, first.state, DialEnded("failed"))
        assert step(rota_flow, second.state, Digits("5")).actions == (Dial(EVENING, 25),)


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 11, 28, 4, 59, tzinfo=UTC), ()),  # Saturday 09:59 in Almaty
        (datetime(2026, 11, 28, 5, 0, tzinfo=UTC), (WEEKEND,)),  # Saturday 10:00
        (datetime(2026, 11, 25, 16, 59, tzinfo=UTC), ()),  # Wednesday 21:59 in Almaty
        (datetime(2026, 11, 25, 17, 0, tzinfo=UTC), (NIGHT,)),  # Wednesday 22:00
        (datetime(2026, 11, 25, 21, 59, tzinfo=UTC), (NIGHT,)),  # Thursday 02:59: Wednesday's shift goes on
        (datetime(2026, 11, 25, 22, 0, tzinfo=UTC), ()),  # Thursday 03:00: the night shift is over
        (datetime(2026, 11, 26, 16, 59, tzinfo=UTC), ()),  # Thursday 21:59: no night shift on Thursdays
    ],
)
def test_who_is_on_duty_across_midnight_and_the_weekend(
    rota_flow: Flow, utc: datetime, expected: tuple[str, ...]
) -> None:
    with time_machine.travel(utc, tick=False):
        result = press_zero(rota_flow)
    if expected:
        assert result.actions[-1] == Dial(expected[0], 25)
    else:
        assert_voicemail(rota_flow, result)


def test_a_plain_number_is_on_duty_around_the_clock(officer_flow: Flow, clock: object) -> None:
    result = press_zero(officer_flow)
    assert result.actions[-1] == Dial(OFFICER_NUMBER, 25)
    assert said(step(officer_flow, result.state, DialEnded("no-answer")))[0] == \
        officer_flow.message("officer_unavailable", "ru").text


def test_an_empty_rota_goes_to_the_urgent_recording_at_once(flow: Flow, clock: object) -> None:
    assert_voicemail(flow, press_zero(flow))


def test_steps_that_ring_the_rota_are_not_cached_across_hours(rota_flow: Flow) -> None:
    event: Event = Digits("0")
    state = CallState(flow_version=rota_flow.version, node="anonymity", language="en")
    with time_machine.travel(datetime(2026, 11, 25, 6, 0, tzinfo=UTC), tick=False):
        assert step(rota_flow, state, event).actions[-1] == Dial(DAY, 25)
    with time_machine.travel(datetime(2026, 11, 25, 1, 0, tzinfo=UTC), tick=False):  # 06:00: nobody
        assert not any(isinstance(a, Dial) for a in step(rota_flow, state, event).actions)


def test_flow_check_names_the_hours_that_go_to_voicemail(rota_flow: Flow) -> None:
    [warning] = [w for w in rota_flow.warnings if "duty_officer" in w.message]
    assert warning.severity == "warning" and warning.line is not None
    assert "fri 18:00-sat 10:00" in warning.message and "mon 18:00-tue 09:00" in warning.message
    assert "wed 18:00-wed 22:00" in warning.message and "thu 03:00-thu 09:00" in warning.message
    assert "Asia/Almaty" in warning.message
    around_the_clock = with_numbers(f'duty_officer: ["{DAY}"]'.replace('["', '"').replace('"]', '"'))
    assert not [w for w in around_the_clock.warnings if "duty_officer" in w.message]
    nobody = [w for w in with_numbers('duty_officer: ""').warnings if "duty_officer" in w.message]
    assert len(nobody) == 1 and "nobody" in nobody[0].message


def test_gaps_are_read_in_week_order() -> None:
    assert describe_gaps(gaps([])) == "mon 00:00-sun 24:00"


@pytest.mark.parametrize(
    ("rota", "field", "words"),
    [
        ('[{days: mon-fr, hours: "09:00-18:00", numbers: ["+77172000001"]}]', "days", "not a day"),
        ('[{days: daily, hours: "9-18", numbers: ["+77172000001"]}]', "hours", "09:00-18:00"),
        ('[{days: daily, hours: "09:00-25:00", numbers: ["+77172000001"]}]', "hours", "00:00 to 24:00"),
        ('[{days: daily, hours: "09:00-18:00", numbers: ["87172000001"]}]', "numbers", "+7XXXXXXXXXX"),
        ('[{days: daily, hours: "09:00-18:00", numbers: []}]', "numbers", "at least 1"),
        ('[{days: daily, hours: "09:00-18:00", number: "+77172000001"}]', "number", "unknown field"),
    ],
)
def test_a_wrong_rota_is_refused_with_file_and_line(rota: str, field: str, words: str) -> None:
    with pytest.raises(FlowError) as refused:
        with_numbers(f"duty_officer: {rota}")
    [problem] = [p for p in refused.value.problems if f"numbers.duty_officer.0.{field}:" in p.message]
    text = FLOW_PATH.read_text(encoding="utf-8")
    assert problem.path == str(FLOW_PATH)
    assert problem.line == text.splitlines().index('  duty_officer: ""') + 1
    assert f"numbers.duty_officer.0.{field}" in problem.message and words in problem.message
