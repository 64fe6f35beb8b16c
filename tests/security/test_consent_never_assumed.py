"""Issue 10, item 1: consent to leave a contact is never assumed.

Every silent, unclear, failed or negated answer ends anonymous; only a keypress leaves a contact
(speech may offer it, a key confirms). The shipped flow is explored through the real, signed
webhooks: every key, silence, wrong keys and spoken answers (negated ones in kk, ru and en) at
every node a caller can reach, each reached state once. Every path that files a report is then
replayed as a call of its own, from its own number, to the end; its call row is named only if a
key confirmed consent, and no number of a non-consenting call is stored anywhere.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from ivr.cases.reference import damm_digit
from ivr.flow.engine import CallState, Digits, NoInput, Speech, step
from ivr.flow.loading import load_flow, parse_flow
from ivr.flow.problems import FlowError
from ivr.models import Call
from tests.support.twilio_sim import TwilioSimulator, new_sid
from tests.voice.test_anonymity import everything_in_redis, everything_in_the_database

ROOT = Path(__file__).resolve().parents[2]
FLOW_PATH = ROOT / "config" / "flow.yaml"
LINE = "+77172141424"
TYPED_NUMBER = "7051112233"  # another number, keyed in at contact_number (a Kazakh mobile)
UNKNOWN_REFERENCE = "1234567" + damm_digit("1234567")  # passes the check digit, belongs to no case

# What callers say at a spoken menu: refusals and negations in every language, bare keywords,
# and answers that name both choices or none.
NEGATED = {
    "ru": ["Я не хочу оставлять контакты", "не оставляйте мои контакты", "нет, без контактов",
           "контакты не надо", "не анонимно"],
    "en": ["no contact please", "I don't want to leave my contacts", "do not keep my contact",
           "not anonymous", "never contact me"],
    "kk": ["байланыс қалдырғым келмейді", "байланыс деректерін қалдырмаймын", "байланыс жоқ",
           "байланыс керек емес", "анонимді емес"],
}
PLAIN = {
    "ru": ["контакты", "оставить контакты", "анонимно", "анонимно или контакты", "не знаю"],
    "en": ["contact", "contacts", "anonymous", "anonymous or contact", "hello"],
    "kk": ["байланыс", "анонимді", "сәлем"],
}
PHRASES = tuple(p for by_language in (NEGATED, PLAIN) for phrases in by_language.values() for p in phrases)
MENU_KEYS = tuple("0123456789*#")
REGION_KEYS = ("02", "99", "*")
REGION_SAYINGS = ("Астана", "не Астана", "контакты")
NUMBER_KEYS = (TYPED_NUMBER + "#", "12345#", UNKNOWN_REFERENCE + "#", "0000#")


# --------------------------------------------------------------------------- the caller


@dataclass(frozen=True)
class Answer:
    """One thing a caller does where the line waits: keys, words, silence, or a report."""

    kind: str  # press | speak | silence | talk | dial
    value: str = ""


@dataclass(frozen=True)
class Wait:
    """Where a TwiML document waits for the caller, and where each kind of answer posts."""

    verb: str  # Gather | Record | Dial | Hangup
    attrs: dict[str, str]
    noinput_url: str | None

    @property
    def token(self) -> str:
        """The sealed call state the answer carries back."""
        url = self.attrs.get("action", "")
        return parse_qs(urlsplit(url).query).get("s", [""])[0]


def waiting(body: str) -> Wait:
    """The verb a response waits at, and its no-input redirect."""
    root = ET.fromstring(body.encode())
    assert root.tag == "Response", body[:200]
    verbs = [el for el in root if el.tag not in ("Say", "Play", "Pause")]
    assert verbs, f"a response that neither waits nor hangs up: {body[:300]}"
    first = verbs[0]
    after = verbs[1] if len(verbs) > 1 and verbs[1].tag == "Redirect" else None
    return Wait(first.tag, dict(first.attrib), (after.text or "").strip() if after is not None else None)


def answers_at(wait: Wait) -> list[Answer]:
    """Everything worth trying at this wait."""
    if wait.verb == "Hangup":
        return []
    if wait.verb == "Record":
        return [Answer("talk", "20"), Answer("talk", "1"), Answer("silence")]
    if wait.verb == "Dial":
        return [Answer("dial", "no-answer"), Answer("dial", "completed")]
    digits = int(wait.attrs.get("numDigits", "1"))
    keys = MENU_KEYS if digits == 1 else REGION_KEYS if digits == 2 else NUMBER_KEYS
    found = [Answer("press", k) for k in keys] + [Answer("silence")]
    if "speech" in wait.attrs.get("input", ""):
        found += [Answer("speak", p) for p in (PHRASES if digits == 1 else REGION_SAYINGS)]
    return found


class Caller:
    """One phone call driven answer by answer through the signed webhooks."""

    def __init__(self, twilio: TwilioSimulator, from_: str) -> None:
        self.twilio, self.from_, self.call_sid = twilio, from_, new_sid("CA")
        self.recordings = 0

    def post(self, url: str, params: dict[str, str]) -> str:
        form = {**self.twilio.voice_form(self.call_sid, self.from_, LINE, None), **params}
        status, body = self.twilio.post(url, form)
        assert status in (200, 204), f"POST {url} answered {status}: {body[:300]}"
        return body

    def settle(self, body: str) -> Wait:
        """Where the caller has to act: guidance before a beep or a transfer plays out on its own."""
        wait = waiting(body)
        while wait.verb == "Gather" and wait.noinput_url and "e=go" in wait.noinput_url:
            wait = waiting(self.post(wait.noinput_url, {}))
        return wait

    def start(self) -> Wait:
        return self.settle(self.post("/voice/incoming", {}))

    def answer(self, wait: Wait, answer: Answer) -> Wait:
        """Do what Twilio does when the caller gives this answer at this wait."""
        action = wait.attrs.get("action", "")
        if answer.kind == "silence":
            assert wait.noinput_url, wait
            return self.settle(self.post(wait.noinput_url, {}))
        if answer.kind == "speak" and "speech" in wait.attrs.get("input", ""):
            return self.settle(self.post(action, {"SpeechResult": answer.value, "Confidence": "0.92"}))
        if answer.kind == "press":
            finish, limit = wait.attrs.get("finishOnKey", ""), int(wait.attrs.get("numDigits", "30"))
            digits = answer.value.split(finish)[0] if finish else answer.value
            digits = digits[:limit]
            if not digits:  # only the finish key: Twilio reports no input
                return self.answer(wait, Answer("silence"))
            finished_on = finish if finish and finish in answer.value else ""
            return self.settle(self.post(action, {"Digits": digits, "FinishedOnKey": finished_on}))
        if answer.kind == "talk":
            self.recordings += 1
            sid = new_sid("RE")
            recording = {"RecordingSid": sid, "RecordingDuration": answer.value, "Digits": "#",
                         "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/x/Recordings/{sid}"}
            body = self.post(action, recording)
            callback = wait.attrs.get("recordingStatusCallback")
            if callback:
                self.post(callback, {**recording, "RecordingStatus": "completed"})
            return waiting(body)
        if answer.kind == "dial":
            return self.settle(self.post(action, {"DialCallStatus": answer.value}))
        raise AssertionError(f"cannot give {answer} at {wait.verb}")

    def hang_up(self) -> None:
        self.post("/voice/status", {"CallStatus": "completed", "CallDuration": "61"})


# --------------------------------------------------------------------------- exploring


@dataclass(frozen=True)
class Path_:
    """How a caller got somewhere, and whether a key confirmed leaving a contact on the way."""

    answers: tuple[Answer, ...]
    consented: bool


def gives_consent(state: CallState, answer: Answer) -> bool:
    """A key that leaves a contact in the shipped flow: 1 at contact_choice, a number at contact_number."""
    if answer.kind != "press":
        return False
    return (state.node == "contact_choice" and answer.value == "1") or (
        state.node == "contact_number" and answer.value == TYPED_NUMBER + "#"
    )


def explore(app, caller: Caller, first: Wait, path: Path_, *, file_reports: bool) -> Iterator[tuple[Path_, Wait]]:  # type: ignore[no-untyped-def]
    """Every state reachable from `first` once (per consent), yielding each wait with its path.

    Without `file_reports` a Record is a frontier: reports are filed by calls of their own.
    """
    codec = app.extensions["ivr"].call_states
    seen: set[tuple[CallState, bool]] = set()
    todo = deque([(path, first)])
    while todo:
        path, wait = todo.popleft()
        if wait.verb == "Hangup":
            yield path, wait
            continue
        state = codec.unseal(wait.token, caller.call_sid)
        key = (replace(state, reference=None, pin=None, recording_sid=None), path.consented)
        if key in seen:
            continue
        seen.add(key)
        yield path, wait
        for answer in answers_at(wait):
            if wait.verb == "Record" and answer.kind == "talk" and not file_reports:
                continue
            following = caller.answer(wait, answer)
            todo.append((Path_((*path.answers, answer), path.consented or gives_consent(state, answer)), following))


def forms_of(number: str) -> list[str]:
    """The shapes a number takes once code has touched it."""
    digits = number.lstrip("+")
    return [digits, digits[1:], "8" + digits[1:]]


def test_every_path_of_the_shipped_flow_stores_a_contact_only_after_a_key(app, twilio: TwilioSimulator) -> None:
    explorer = Caller(twilio, "+77000000000")
    reports, ends = [], 0
    for path, wait in explore(app, explorer, explorer.start(), Path_((), False), file_reports=False):
        if wait.verb == "Record":
            reports.append(path)
        ends += wait.verb == "Hangup"
    assert ends and reports
    assert any(p.consented for p in reports) and any(not p.consented for p in reports)

    sessions = app.extensions["ivr"].sessions
    silent_numbers = []
    explored_after_report: set[tuple[str | None, bool]] = set()
    for index, path in enumerate(reports):
        number = f"+7707{(index * 7919 + 3_481_526) % 10_000_000:07d}"  # one number per call, unlike any other
        caller = Caller(twilio, number)
        wait = caller.start()
        for answer in path.answers:
            wait = caller.answer(wait, answer)
        assert wait.verb == "Record"
        filed = caller.answer(wait, Answer("talk", "20"))
        # After the report nothing is asked that could change consent; every way on from there
        # (review, record again, finish) is explored once per language and consent, the other
        # calls send their report and hang up.
        language = app.extensions["ivr"].call_states.unseal(filed.token, caller.call_sid).language
        if (language, path.consented) not in explored_after_report:
            explored_after_report.add((language, path.consented))
            for _ in explore(app, caller, filed, path, file_reports=True):
                pass
        else:
            caller.answer(caller.answer(filed, Answer("press", "3")), Answer("silence"))
        caller.hang_up()
        with sessions() as session:
            call = session.scalars(select(Call).where(Call.call_sid == caller.call_sid)).one()
            stored = (call.is_anonymous, call.contact_ciphertext is not None)
        said = [a.value for a in path.answers]
        if path.consented:
            assert stored == (False, True), f"a key left the contact, yet it was not kept: {said}"
        else:
            assert stored == (True, False), f"contact kept without a key: {said}"
            silent_numbers.append(number)

    everything = everything_in_the_database(app) + everything_in_redis(app)
    for number in silent_numbers:
        for form in forms_of(number):
            assert form not in everything, f"{form} of a call that gave no consent is stored"


# --------------------------------------------------------------------------- the callers


def test_silence_at_the_contact_menu_keeps_the_caller_anonymous(app, twilio: TwilioSimulator) -> None:
    caller = Caller(twilio, "+77019998877")
    wait = caller.answer(caller.start(), Answer("press", "2"))  # Russian
    wait = caller.answer(wait, Answer("press", "2"))  # "leave my contact details"
    for _ in range(3):
        wait = caller.answer(wait, Answer("silence"))
    wait = caller.answer(wait, Answer("press", "02"))
    assert wait.verb == "Record"
    assert_anonymous(app, caller, Answer("talk", "20"), wait)


def test_three_mistyped_numbers_keep_the_caller_anonymous(app, twilio: TwilioSimulator) -> None:
    caller = Caller(twilio, "+77019998877")
    wait = caller.answer(caller.start(), Answer("press", "2"))
    wait = caller.answer(wait, Answer("press", "2"))
    wait = caller.answer(wait, Answer("press", "2"))  # "another number"
    for _ in range(3):
        wait = caller.answer(wait, Answer("press", "123456#"))
    wait = caller.answer(wait, Answer("press", "02"))
    assert wait.verb == "Record"
    assert_anonymous(app, caller, Answer("talk", "20"), wait)


@pytest.mark.parametrize("language_key,said", [
    ("2", "Я не хочу оставлять контакты"),
    ("3", "no contact please"),
    ("1", "байланыс қалдырғым келмейді"),
])
def test_a_spoken_refusal_is_never_consent(app, twilio: TwilioSimulator, language_key: str, said: str) -> None:
    caller = Caller(twilio, "+77019998877")
    wait = caller.answer(caller.start(), Answer("press", language_key))
    # Said, then silence to every question after it.
    wait = caller.answer(wait, Answer("speak", said))
    while wait.verb == "Gather":
        wait = caller.answer(wait, Answer("silence"))
    assert wait.verb == "Record"
    assert_anonymous(app, caller, Answer("talk", "20"), wait)


def assert_anonymous(app, caller: Caller, report: Answer, wait: Wait) -> None:  # type: ignore[no-untyped-def]
    caller.answer(wait, report)
    caller.hang_up()
    with app.extensions["ivr"].sessions() as session:
        call = session.scalars(select(Call).where(Call.call_sid == caller.call_sid)).one()
        assert (call.is_anonymous, call.contact_ciphertext) == (True, None)
    everything = everything_in_the_database(app) + everything_in_redis(app)
    for form in forms_of(caller.from_):
        assert form not in everything


# --------------------------------------------------------------------------- the engine's ears


@pytest.fixture(scope="module")
def flow():  # type: ignore[no-untyped-def]
    return load_flow(FLOW_PATH)


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_negated_answers_choose_nothing(flow, language: str) -> None:  # type: ignore[no-untyped-def]
    state = CallState(flow_version=flow.version, node="anonymity", language=language)
    for said in NEGATED[language]:
        result = step(flow, state, Speech(said, 0.9))
        assert (result.state.node, result.state.is_anonymous, result.is_answer) == ("anonymity", None, False), said


@pytest.mark.parametrize(("language", "said", "node"), [
    ("ru", "анонимно", "region"), ("ru", "хочу оставить контакты", "contact_choice"),
    ("en", "anonymous please", "region"), ("en", "my contacts", "contact_choice"),
    ("kk", "анонимді", "region"), ("kk", "байланыс", "contact_choice"),
    # Both choices named at once: unclear, so asked again.
    ("ru", "анонимно или контакты", "anonymity"), ("en", "anonymous or contact", "anonymity"),
    # A keyword inside another word is not the word.
    ("en", "contactless", "anonymity"), ("ru", "неанонимно", "anonymity"),
])
def test_spoken_answers_match_whole_words(flow, language: str, said: str, node: str) -> None:  # type: ignore[no-untyped-def]
    state = CallState(flow_version=flow.version, node="anonymity", language=language)
    assert step(flow, state, Speech(said, 0.9)).state.node == node


def test_speech_alone_never_leaves_a_contact(flow) -> None:  # type: ignore[no-untyped-def]
    state = CallState(flow_version=flow.version, node="anonymity", language="ru")
    state = step(flow, state, Speech("оставить контакты", 0.9)).state
    assert state.node == "contact_choice"
    for event in (NoInput(), NoInput(), NoInput()):
        state = step(flow, state, event).state
    assert (state.node, state.is_anonymous, state.contact) == ("region", True, None)
    keyed = step(flow, CallState(flow_version=flow.version, node="contact_choice", language="ru",
                                 is_anonymous=False), Digits("1"))
    assert (keyed.state.is_anonymous, keyed.state.contact) == (False, "caller")


# --------------------------------------------------------------------------- the check


SHIPPED = FLOW_PATH.read_text(encoding="utf-8")

ASSUMING_FLOWS = [
    ("timeout-sets-contact", "contact_choice",
     "    after_retries: {set: {anonymous: true}, goto: region}\n\n  contact_number:",
     "    after_retries: {set: {contact: caller}, goto: region}\n\n  contact_number:",
     "after_retries: {set: {contact: caller}"),
    ("failed-number-sets-contact", "contact_number",
     "    after_retries: {set: {anonymous: true}, goto: region}\n    next: region",
     "    after_retries: {set: {contact: caller}, goto: region}\n    next: region",
     "after_retries: {set: {contact: caller}"),
    ("timeout-names-the-caller", "anonymity",
     "    after_retries: {set: {anonymous: true}, goto: region}\n\n  duty_officer:",
     "    after_retries: {set: {anonymous: false}, goto: region}\n\n  duty_officer:",
     "after_retries: {set: {anonymous: false}"),
    ("speech-sets-contact", "contact_choice",
     '      "1": {set: {contact: caller}, goto: region}',
     '      "1": {set: {contact: caller}, goto: region, words: {ru: [да], kk: [иә], en: ["yes"]}}',
     '"1": {set: {contact: caller}'),
    ("set-node-sets-contact", "urgent_record",
     "    set: {anonymous: true, urgent: true}\n    goto: region",
     "    set: {anonymous: false, urgent: true, contact: caller}\n    goto: region",
     "set: {anonymous: false, urgent: true, contact: caller}"),
]


@pytest.mark.parametrize(("node", "old", "new", "marker"), [c[1:] for c in ASSUMING_FLOWS],
                         ids=[c[0] for c in ASSUMING_FLOWS])
def test_flow_check_refuses_a_contact_without_a_key(tmp_path: Path, node: str, old: str, new: str,
                                                    marker: str) -> None:
    assert old in SHIPPED, old
    text = SHIPPED.replace(old, new, 1)
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FlowError) as refused:
        parse_flow(text, str(path))
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if marker in t)
    found = [p for p in refused.value.problems if p.node == node and "consent" in p.message]
    assert found, refused.value.problems
    assert (found[0].path, found[0].line, found[0].severity) == (str(path), line, "error")


def test_flow_check_cli_names_the_assumed_consent(ivr, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = SHIPPED.replace(*ASSUMING_FLOWS[0][2:4], 1)
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    run = ivr("flow", "check", str(path), "--no-audio", "--json")
    assert run.code == 1
    problems = json.loads(run.out)["problems"]
    found = [p for p in problems if p["kind"] == "assumed-consent"]
    assert found and found[0]["node"] == "contact_choice" and found[0]["file"] == str(path), problems
    assert "key" in found[0]["fix"]


def test_shipped_flow_passes_the_consent_check() -> None:
    assert load_flow(FLOW_PATH).doc.nodes["contact_choice"]
