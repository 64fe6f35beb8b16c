"""Steps as TwiML: parse the XML and check the attributes Twilio acts on."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest

from ivr.flow.engine import (
    CallState,
    Dial,
    Digits,
    Gather,
    Hangup,
    Play,
    PlayRecording,
    Record,
    Say,
    Step,
    start,
    step,
)
from ivr.flow.loading import parse_flow
from ivr.flow.model import Flow
from ivr.flow.problems import FlowError
from ivr.flow.twiml import MAX_HINTS_CHARS, to_twiml
from tests.flow.conftest import OFFICER_NUMBER

BASE = "https://ivr.example.test"
LINE_NUMBER = "+77172991424"  # the hotline's own number


class FakeVoiceUrls:
    """VoiceUrls that spell the state's node and tries in plain query strings, so tests can read them."""

    def step(self, state: CallState, event: str | None = None) -> str:
        suffix = f"&e={event}" if event else ""
        return f"{BASE}/voice/step?node={state.node}&tries={state.tries}{suffix}"

    def recorded(self, state: CallState) -> str:
        return f"{BASE}/voice/recorded?node={state.node}"

    def recording_status(self, state: CallState) -> str:
        return f"{BASE}/voice/recording-status?node={state.node}"

    def prompt(self, path: str) -> str:
        return f"{BASE}/voice/prompts/{path}?v=test"

    def recording(self, recording_sid: str) -> str:
        return f"{BASE}/recordings/{recording_sid}.wav"

    def line_number(self) -> str | None:
        return LINE_NUMBER


def twiml(result: Step) -> ET.Element:
    """The parsed <Response> for one step."""
    root = ET.fromstring(to_twiml(result, FakeVoiceUrls()))
    assert root.tag == "Response"
    return root


def tags(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def query(url: str | None) -> dict[str, str]:
    assert url is not None
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def at(flow: Flow, node: str, **facts: object) -> CallState:
    return CallState(flow.version, node, **facts)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Gather


def test_first_answer_greets_inside_the_gather_then_redirects_on_silence(flow: Flow) -> None:
    root = twiml(start(flow))
    assert tags(root) == ["Gather", "Redirect"]  # a key cuts even the greeting short
    gather = root[0]
    assert gather[0].text == f"{BASE}/voice/prompts/kk/welcome.wav?v=test"
    assert gather[2].get("voice") == "Polly.Tatyana"
    assert gather[2].get("language") == "ru-RU"
    assert gather[2].text is not None and gather[2].text.startswith("Здравствуйте!")
    assert gather.attrib == {
        "action": f"{BASE}/voice/step?node=choose_language&tries=0",
        "method": "POST",
        "timeout": "5",
        "numDigits": "1",
        "finishOnKey": "",  # explicit: Twilio's default '#' must not end a menu's input
        "input": "dtmf",
        "actionOnEmptyResult": "false",
    }
    assert tags(gather) == ["Play", "Play", "Say", "Say", "Say"]
    assert [s.get("language") for s in gather.iter("Say")] == ["ru-RU", "ru-RU", "en-US"]
    assert [s.get("voice") for s in gather.iter("Say")] == ["Polly.Tatyana", "Polly.Tatyana", "Polly.Joanna"]
    redirect = root[1]
    assert redirect.get("method") == "POST"
    assert query(redirect.text) == {"node": "choose_language", "tries": "0", "e": "noinput"}


def test_speech_menu_gathers_keys_and_speech_with_hints(flow: Flow) -> None:
    root = twiml(step(flow, at(flow, "choose_language"), Digits("2")))
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == "ru-RU"
    assert gather.get("speechTimeout") == "auto"
    assert gather.get("hints") == "анонимно,аноним,контакты,оставить контакты"
    assert gather.get("numDigits") == "1"
    assert gather.get("timeout") == "5"
    assert gather.get("finishOnKey") == ""


def test_kazakh_caller_is_heard_by_the_russian_recogniser(flow: Flow) -> None:
    gather = twiml(step(flow, at(flow, "choose_language"), Digits("1"))).find("Gather")
    assert gather is not None
    assert gather.get("language") == "ru-RU"
    assert gather.get("hints") == "анонимді,аноним,байланыс"
    assert {p.text for p in gather.iter("Play")} == {
        f"{BASE}/voice/prompts/kk/urgent_offer.wav?v=test",
        f"{BASE}/voice/prompts/kk/anonymity_menu.wav?v=test",
    }
    assert gather.find("Say") is None


def test_retry_redirect_and_action_carry_the_new_try_count(flow: Flow) -> None:
    root = twiml(step(flow, at(flow, "anonymity", language="ru"), Digits("7")))
    assert tags(root) == ["Gather", "Redirect"]
    assert root[0][0].text == "Такого варианта нет."
    assert query(root[0].get("action")) == {"node": "anonymity", "tries": "1"}
    assert query(root[1].text) == {"node": "anonymity", "tries": "1", "e": "noinput"}


def test_number_gather_finishes_on_hash_and_takes_up_to_eleven_digits(flow: Flow) -> None:
    gather = twiml(step(flow, at(flow, "contact_choice", language="en"), Digits("2"))).find("Gather")
    assert gather is not None
    assert gather.get("finishOnKey") == "#"
    assert gather.get("numDigits") == "11"
    assert gather.get("input") == "dtmf"
    assert gather.get("timeout") == "10"
    assert gather.get("language") is None
    assert gather.get("hints") is None


def test_region_gather_takes_two_digits_or_a_name(flow: Flow) -> None:
    gather = twiml(step(flow, at(flow, "anonymity", language="en"), Digits("1"))).find("Gather")
    assert gather is not None
    assert (gather.get("numDigits"), gather.get("timeout"), gather.get("input")) == ("2", "5", "dtmf speech")
    assert gather.get("finishOnKey") == ""
    assert gather.get("language") == "en-US"
    hints = gather.get("hints")
    assert hints is not None and len(hints) <= MAX_HINTS_CHARS
    assert hints.split(",")[:3] == ["Astana", "Almaty", "Shymkent"]  # every official name first
    assert "Ulytau Region" in hints.split(",")


def test_region_list_is_inside_the_gather_so_a_key_interrupts_it(flow: Flow) -> None:
    root = twiml(step(flow, at(flow, "region", language="ru"), Digits("*")))
    assert tags(root) == ["Gather", "Redirect"]
    says = [s.text for s in root[0].iter("Say")]
    assert says[:3] == ["Коды регионов.", "0, 1.", "Астана."]
    assert len(says) == 1 + 2 * len(flow.doc.regions) + 1
    assert root[0].get("finishOnKey") == ""


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_region_wrong_code_re_asks_briefly_inside_the_gather(flow: Flow, language: str) -> None:
    root = twiml(step(flow, at(flow, "region", language=language), Digits("99")))
    assert tags(root) == ["Gather", "Redirect"]  # nothing is said before a key can interrupt
    gather = root[0]
    assert query(gather.get("action")) == {"node": "region", "tries": "1"}
    assert query(root[1].text) == {"node": "region", "tries": "1", "e": "noinput"}
    spoken = [child.text or "" for child in gather]
    if language == "ru":
        assert spoken == ["Такого варианта нет.", "Назовите область. Список кодов — звёздочка."]
    else:
        assert spoken == [f"{BASE}/voice/prompts/kk/invalid_input.wav?v=test",
                          f"{BASE}/voice/prompts/kk/region_reprompt.wav?v=test"]


def test_empty_hints_are_left_out() -> None:
    state = CallState("v1", "ask")
    result = Step(state, (Gather((Say("Hi", "Polly.Joanna", "en-US"),), 5, 1, speech_language="en-US"),))
    gather = twiml(result).find("Gather")
    assert gather is not None
    assert gather.get("input") == "dtmf speech"
    assert "hints" not in gather.attrib


def test_hints_are_ignored_without_speech() -> None:
    result = Step(CallState("v1", "ask"), (Gather((Say("Hi", "Polly.Joanna", "en-US"),), 5, 1, hints=("yes",)),))
    gather = twiml(result).find("Gather")
    assert gather is not None
    assert gather.get("input") == "dtmf"
    assert "hints" not in gather.attrib
    assert "language" not in gather.attrib


def test_long_hints_are_cut_at_a_whole_hint() -> None:
    hints = tuple(f"район номер {n}" for n in range(200))
    result = Step(CallState("v1", "where"), (Gather((), 7, 2, speech_language="ru-RU", hints=hints),))
    gather = twiml(result).find("Gather")
    assert gather is not None
    sent = (gather.get("hints") or "").split(",")
    assert len(",".join(sent)) <= MAX_HINTS_CHARS
    assert sent == list(hints[: len(sent)])
    assert len(",".join(hints[: len(sent) + 1])) > MAX_HINTS_CHARS  # as many as fit


def test_hints_that_fit_are_sent_whole() -> None:
    hints = ("a" * 499, "b" * 500)  # 1000 characters with the comma
    result = Step(CallState("v1", "where"), (Gather((), 7, 2, speech_language="ru-RU", hints=hints),))
    gather = twiml(result).find("Gather")
    assert gather is not None
    assert gather.get("hints") == ",".join(hints)


# --------------------------------------------------------------------------- Record


def test_record_posts_its_action_and_status_callback_then_redirects_on_silence(flow: Flow) -> None:
    root = twiml(step(flow, at(flow, "region", language="ru"), Digits("13")))
    assert tags(root) == ["Gather", "Redirect", "Record", "Redirect"]
    # The guidance in a one-second Gather: a key skips it, silence steps on ("go") to the beep.
    assert root[0][0].text is not None and root[0][0].text.startswith("После сигнала")
    assert (root[0].get("timeout"), root[0].get("numDigits")) == ("1", "1")
    assert query(root[1].text) == {"node": "record", "tries": "0", "e": "go"}
    root = twiml(step(flow, at(flow, "record", language="ru"), Digits("")))
    assert tags(root) == ["Record", "Redirect"]
    assert root[0].attrib == {
        "action": f"{BASE}/voice/recorded?node=record",
        "method": "POST",
        "maxLength": "300",
        "timeout": "10",
        "finishOnKey": "#",
        "playBeep": "true",
        "trim": "trim-silence",
        "recordingStatusCallback": f"{BASE}/voice/recording-status?node=record",
        "recordingStatusCallbackMethod": "POST",
        "recordingStatusCallbackEvent": "completed",
    }
    assert root[1].get("method") == "POST"
    assert query(root[1].text) == {"node": "record", "tries": "0", "e": "noinput"}


def test_record_values_come_from_the_action() -> None:
    root = twiml(Step(CallState("v1", "talk"), (Record(600, 5, "*"),)))
    record = root.find("Record")
    assert record is not None
    assert (record.get("maxLength"), record.get("timeout"), record.get("finishOnKey")) == ("600", "5", "*")


# --------------------------------------------------------------------------- Dial, Hangup, Play


def test_dial_posts_how_it_ended(officer_flow: Flow) -> None:
    root = twiml(step(officer_flow, at(officer_flow, "anonymity", language="ru"), Digits("0")))
    assert tags(root) == ["Gather", "Redirect", "Dial"]
    assert query(root[1].text) == {"node": "duty_officer", "tries": "0", "e": "go"}
    dial = root[2]
    assert dial.get("method") == "POST"
    assert dial.get("timeout") == "25"
    assert query(dial.get("action")) == {"node": "duty_officer", "tries": "0", "e": "dial"}
    assert dial.get("callerId") == LINE_NUMBER  # the line's number, never the (anonymous) caller's
    assert tags(dial) == ["Number"]
    assert dial[0].text == OFFICER_NUMBER


def test_hangup_ends_the_document(flow: Flow) -> None:
    root = twiml(step(flow, at(flow, "repeat", language="en"), Digits("9")))
    assert tags(root) == ["Say", "Hangup"]
    assert root[0].text == "Thank you for calling. Goodbye."
    assert root[0].get("voice") == "Polly.Joanna"


def test_playback_plays_the_callers_recording(flow: Flow) -> None:
    root = twiml(step(flow, at(flow, "review", language="ru", recording_sid="RE0123"), Digits("1")))
    assert tags(root) == ["Gather", "Redirect"]
    assert tags(root[0]) == ["Say", "Play", "Say"]
    assert root[0][1].text == f"{BASE}/recordings/RE0123.wav"


def test_prompt_urls_come_from_voice_urls() -> None:
    actions = (Play("kk/digits/4.wav"), PlayRecording("RE9"), Hangup())
    root = twiml(Step(CallState("v1", "bye"), actions))
    assert [p.text for p in root.iter("Play")] == [
        f"{BASE}/voice/prompts/kk/digits/4.wav?v=test",
        f"{BASE}/recordings/RE9.wav",
    ]


def test_say_text_is_escaped() -> None:
    root = twiml(Step(CallState("v1", "bye"), (Say('Tom & "Jerry" <3', "Polly.Joanna", "en-US"), Hangup())))
    assert root[0].text == 'Tom & "Jerry" <3'


def test_dial_without_say_is_alone() -> None:
    root = twiml(Step(CallState("v1", "call"), (Dial("+77172000000", 30),)))
    assert tags(root) == ["Dial"]
    assert root[0].get("timeout") == "30"
    assert root[0].get("callerId") == LINE_NUMBER


# --------------------------------------------------------------------------- the '#' key

HASH_FLOW = """\
name: hash
languages:
  ru: {{voice: Polly.Tatyana, tts_language: ru-RU, speech_language: ru-RU}}
default_language: ru
start: ask
nodes:
  ask:
    kind: {kind}
    say: [hello]
{body}
    after_retries: {{goto: bye}}
  bye: {{kind: hangup}}
messages:
  hello: {{ru: Здравствуйте}}
  no_input: {{ru: Не слышно}}
  invalid_input: {{ru: Нет такого}}
regions:
  - {{code: "01", kato: "710000000", names: {{ru: Астана}}}}
"""


@pytest.mark.parametrize(
    ("kind", "body", "refusal"),
    [
        ("menu", '    options:\n      "#": {goto: bye}', "# cannot be a menu option"),
        ("region", '    list_key: "#"\n    next: bye', "list_key '#' must be *"),
    ],
    ids=["menu-option", "region-list-key"],
)
def test_hash_key_is_refused_on_load_where_it_would_end_the_gather(kind: str, body: str, refusal: str) -> None:
    with pytest.raises(FlowError) as caught:
        parse_flow(HASH_FLOW.format(kind=kind, body=body))
    assert [p.node for p in caught.value.problems] == ["ask"]
    assert caught.value.first.message.startswith(refusal)


@pytest.mark.parametrize(
    ("kind", "body", "num_digits"),
    [
        ("menu", '    options:\n      "*": {goto: bye}', "1"),
        ("region", "    next: bye", "2"),
    ],
    ids=["menu", "region"],
)
def test_menu_and_region_gathers_say_no_finish_key_explicitly(kind: str, body: str, num_digits: str) -> None:
    gather = twiml(start(parse_flow(HASH_FLOW.format(kind=kind, body=body)))).find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == num_digits
    assert "finishOnKey" in gather.attrib
    assert gather.get("finishOnKey") == ""  # not Twilio's default '#'


def test_gather_finish_key_comes_from_the_action() -> None:
    result = Step(CallState("v1", "pin"), (Gather((Say("PIN", "Polly.Joanna", "en-US"),), 10, 8, finish_on_key="*"),))
    gather = twiml(result).find("Gather")
    assert gather is not None
    assert gather.get("finishOnKey") == "*"
