"""Issue 16, item 6: no input gives a 5xx. Non-ASCII digits, odd signatures, and a fuzz of every field.

Requests are signed with Twilio's real RequestValidator, so they get past the signature check
and reach the handlers; every answer must be below 500, and every TwiML answer well-formed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ivr.models import Call
from tests.support.twilio_sim import CallResult, Press, Silence, Talk, TwilioSimulator
from tests.voice.test_followup import report

NON_ASCII_DIGITS = ["²²²²²²²²", "①②③④⑤⑥⑦⑧", "٣٤٥٦٧٨٩٠", "１２３４５６７８", "𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖", "¹²³"]


def gather_action(result: CallResult) -> str:
    """The action URL of the last <Gather> the caller heard."""
    for _url, _form, _status, body in reversed(result.requests):
        if "<Gather" in body:
            gather = ET.fromstring(body.encode()).find("Gather")
            assert gather is not None
            return gather.get("action", "")
    raise AssertionError("no Gather was heard")


def post(twilio: TwilioSimulator, url: str, result: CallResult, **fields: str) -> tuple[int, str]:
    form = {**twilio.voice_form(result.call_sid, "+77012345678", "+77172141424", None), **fields}
    return twilio.post(url, form)


def assert_twiml(status: int, body: str) -> ET.Element | None:
    assert status < 500, body[:300]
    if status == 200 and body.strip():
        root = ET.fromstring(body.encode("utf-8"))
        assert root.tag == "Response"
        return root
    return None


@pytest.mark.parametrize("digits", NON_ASCII_DIGITS)
def test_non_ascii_digits_at_the_followup_reference_are_asked_again(twilio: TwilioSimulator, digits: str) -> None:
    result = twilio.call([Press("2"), Press("9")])
    status, body = post(twilio, gather_action(result), result, Digits=digits)
    root = assert_twiml(status, body)
    assert root is not None and root.find("Gather") is not None  # asked again, not let through


@pytest.mark.parametrize("digits", ["８７０１２３４５６７８", "٨٧٠١٢٣٤٥٦٧٨", "87０1234567８"])
def test_full_width_digits_are_not_a_contact_number(app: Any, twilio: TwilioSimulator, digits: str) -> None:
    result = twilio.call([Press("2"), Press("2"), Press("2")])  # Russian, leave contact, another number
    status, body = post(twilio, gather_action(result), result, Digits=digits)
    root = assert_twiml(status, body)
    assert root is not None
    said = [element.text for element in root.iter("Say")]
    invalid = app.extensions["ivr"].flows.current.message("invalid_number", "ru").text
    assert invalid in said


def test_a_contact_from_a_number_in_other_digits_is_kept_in_ascii(app: Any, twilio: TwilioSimulator) -> None:
    """`From` is Twilio's, but whatever it holds, only ASCII digits are kept."""
    twilio.call([Press("2"), Press("2"), Press("1"), Press("02"), Talk(10), Press("3"), Silence()],
                from_="+٧٧٠١٢٣٤٥٦٧٨")
    from ivr.crypto import Cipher
    from ivr.intake import contact_context

    with app.extensions["ivr"].sessions() as session:
        call = session.scalars(select(Call)).one()
        if call.contact_ciphertext is not None:
            cipher = Cipher(app.extensions["ivr"].settings.data_keys)
            contact = cipher.decrypt(call.contact_ciphertext, context=contact_context(call.call_sid)).decode()
            assert contact.isascii()


@pytest.mark.parametrize("signature", ["é" * 28, "Ÿ", "ÿ" * 100, "\x7f", " "])
def test_a_non_ascii_signature_is_refused_not_a_crash(twilio: TwilioSimulator, signature: str) -> None:
    from tests.support.twilio_sim import new_sid

    form = twilio.voice_form(new_sid("CA"), "+77012345678", "+77172141424", None)
    for path in ("/voice/incoming", "/voice/step", "/voice/status", "/voice/recording-status"):
        status, _ = twilio.post(path, form, signature=signature)
        assert status == 403


# ------------------------------------------------------------------ fuzz

FIELDS = [
    "CallSid", "AccountSid", "From", "To", "Caller", "Called", "CallerName", "CallStatus", "Direction",
    "Digits", "FinishedOnKey", "SpeechResult", "Confidence", "RecordingSid", "RecordingUrl",
    "RecordingDuration", "RecordingStatus", "CallDuration", "DialCallStatus", "ErrorCode", "msg",
]
QUERY = ["s", "e"]
SIGNATURE = "X-Twilio-Signature"  # the header itself, forged (a value that can travel in HTTP: latin-1)
ODD = st.sampled_from([
    *NON_ASCII_DIGITS, "", " ", "\x00", "\x0b", "-1", "99999999999999999999", "1e999", "nan", "inf", "0x1f",
    "*", "#", "**##", "9" * 300, "CA" + "a" * 32 + "\n", "RE" + "a" * 32, "hangup", "completed", "dial",
    "noinput", "<Response/>", "&amp;", "]]>", "анонимно", "оставить контакты", "٠", "𝟗",
])
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
DIGITY = st.text(alphabet=st.characters(whitelist_categories=("Nd", "No")), min_size=1, max_size=12)
VALUES = st.one_of(ODD, TEXT, DIGITY)
LATIN1 = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), min_size=1, max_size=40)


def _requests_of_real_calls(app: Any, twilio: TwilioSimulator) -> list[tuple[str, dict[str, str]]]:
    """Every webhook request of real calls: each node's sealed state, to mutate one field at a time."""
    reference, pin = report(app, twilio, named=True)
    results = [
        twilio.call([Press("3"), Press("2"), Press("2"), Press("87012345678#"), Press("*"), Press("02"), Talk(8),
                     Press("1"), Press("2"), Talk(6), Press("3"), Press("1"), Silence()]),
        twilio.call([Press("2"), Press("0")]),
        twilio.call([Press("1"), Press("9"), Press(reference), Press(pin), Press("2"), Press("1"), Talk(5),
                     Press("3")]),
        twilio.call([Press("2"), Press("9"), Press(reference), Press("0000"), Press("0000")]),
    ]
    pool = [(url, form) for result in results for url, form, _status, _body in result.requests]
    pool.append((twilio.url("/voice/fallback"), pool[0][1]))
    pool.append((twilio.url("/voice/fallback/recorded"), {**pool[0][1], "RecordingSid": "RE" + "d" * 32}))
    return pool


@pytest.fixture
def webhook_requests(app: Any, twilio: TwilioSimulator) -> list[tuple[str, dict[str, str]]]:
    return _requests_of_real_calls(app, twilio)


def _with_query(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query[name] = value
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_field_of_any_webhook_gives_a_5xx(
    twilio: TwilioSimulator, webhook_requests: list[tuple[str, dict[str, str]]], data: st.DataObject
) -> None:
    url, form = data.draw(st.sampled_from(webhook_requests), label="request")
    # Digits is where callers type: drawn more often than the other fields.
    field = data.draw(st.sampled_from([*FIELDS, "Digits", "Digits", "Digits", *QUERY, SIGNATURE]), label="field")
    if field == SIGNATURE:
        status, body = twilio.post(url, form, signature=data.draw(LATIN1, label="signature"))
        assert status == 403
        return
    value = data.draw(VALUES, label="value")
    if field in QUERY:
        url = _with_query(url, field, value)
    else:
        form = {**form, field: value}
    status, body = twilio.post(url, form)  # signed with RequestValidator: it reaches the handler
    assert_twiml(status, body)
