"""Issue 10, item 2: no reference, PIN or contact in any webhook URL, even for whoever holds the secret.

Whole calls run through the Twilio stand-in; every URL Twilio requested and every URL in every
TwiML answer is collected, each sealed state is opened with the app's own secret, and none may
hold the reference, the PIN or the caller's number.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from ivr.models import Call
from tests.support.twilio_sim import CallResult, Press, Silence, Talk, TwilioSimulator
from tests.voice.test_followup import msg, spoken_after

CALLER = "+77012345678"
KEYED = "87051112233"


def urls_of(result: CallResult) -> list[str]:
    """Every URL Twilio requested, and every URL written in any TwiML answer."""
    urls = [url for url, _form, _status, _body in result.requests]
    for _url, _form, status, body in result.requests:
        if status != 200 or not body.strip().startswith("<?xml"):
            continue
        for element in ET.fromstring(body.encode()).iter():
            urls += [value for value in element.attrib.values() if "://" in value]
            if element.text and "://" in element.text:
                urls.append(element.text.strip())
    return urls


def opened_states(app: Any, result: CallResult) -> list[str]:
    """Each sealed state in those URLs, opened with the app's secret, as text."""
    codec = app.extensions["ivr"].call_states
    opened = []
    for url in urls_of(result):
        for token in parse_qs(urlsplit(url).query).get("s", []):
            opened.append(json.dumps(asdict(codec.unseal(token, result.call_sid)), ensure_ascii=False))
    assert opened, "no sealed state was seen: the test would prove nothing"
    return opened


def assert_nowhere(app: Any, result: CallResult, *secrets: str) -> None:
    for text in opened_states(app, result):
        digits = re.sub(r"[^0-9]", "", text)
        for secret in secrets:
            assert secret not in text and secret not in digits, (secret, text)
    for url in urls_of(result):
        for secret in secrets:
            assert secret not in url


def heard(app: Any, result: CallResult) -> tuple[str, str]:
    said = result.said()
    return spoken_after(said, msg(app, "reference_is")), spoken_after(said, msg(app, "pin_is"))


def test_anonymous_call_carries_no_reference_or_pin_in_its_urls(app: Any, twilio: TwilioSimulator) -> None:
    # Listen back, re-record, send, then hear the reference and PIN twice ("1" repeats).
    result = twilio.call([Press("2"), Press("1"), Press("02"), Talk(20), Press("1"), Press("2"), Talk(12),
                          Press("3"), Press("1"), Silence()], from_=CALLER)
    reference, pin = heard(app, result)
    said = result.said()
    assert said.count(", ".join(reference) + ".") == 2 and said.count(", ".join(pin) + ".") == 2
    assert_nowhere(app, result, reference, pin, CALLER[1:], CALLER[2:])


def test_named_call_with_a_keyed_number_carries_no_contact_in_its_urls(app: Any, twilio: TwilioSimulator) -> None:
    result = twilio.call([Press("2"), Press("2"), Press("2"), Press(KEYED + "#"), Press("02"), Talk(20),
                          Press("3"), Press("1"), Silence()], from_=CALLER)
    reference, pin = heard(app, result)
    assert_nowhere(app, result, reference, pin, KEYED, KEYED[1:], CALLER[2:])
    from ivr.crypto import Cipher
    from ivr.intake import contact_context

    with app.extensions["ivr"].sessions() as session:
        call = session.scalars(select(Call).where(Call.call_sid == result.call_sid)).one()
        assert call.reference == reference and not call.is_anonymous
        cipher = Cipher(app.extensions["ivr"].settings.data_keys)
        assert cipher.decrypt(call.contact_ciphertext, context=contact_context(call.call_sid)).decode() == KEYED
        assert call.pending_pin_ciphertext is None  # the call ended: only the keyed hash stays


def test_named_call_leaving_its_own_number_carries_no_contact_in_its_urls(app: Any,
                                                                         twilio: TwilioSimulator) -> None:
    result = twilio.call([Press("2"), Press("2"), Press("1"), Press("02"), Talk(20), Press("3"), Silence()],
                         from_=CALLER)
    reference, pin = heard(app, result)
    assert_nowhere(app, result, reference, pin, CALLER[1:], CALLER[2:])


def test_followup_call_carries_no_reference_or_pin_in_its_urls(app: Any, twilio: TwilioSimulator) -> None:
    first = twilio.call([Press("2"), Press("1"), Press("02"), Talk(20), Press("3"), Silence()])
    reference, pin = heard(app, first)
    # Wrong PIN first, then the right one; new information; a new PIN.
    wrong = "0" * len(pin) if pin != "0" * len(pin) else "1" * len(pin)
    result = twilio.call([Press("2"), Press("9"), Press(reference), Press(wrong), Press(pin), Press("1"), Talk(9),
                          Press("2"), Press("3")], from_="+77075554433")
    said = result.said()
    new_pin = spoken_after(said, msg(app, "new_pin_is"))
    assert msg(app, "followup_received") in said
    assert_nowhere(app, result, reference, pin, new_pin, "7075554433")
