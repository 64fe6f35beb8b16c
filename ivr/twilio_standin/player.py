"""Twilio's voice side of an inbound call (the one player for `ivr simulate`, /admin/simulate and the tests).

The caller's answers come from a script (a list of inputs) or an `InputSource` asked at each
<Gather>, <Record> and <Dial> (`ivr.twilio_standin.callers`: a person at a terminal).

Example::

    sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=TOKEN,
                          public_base_url="https://ivr.example.test")
    result = sim.call([Press("1"), Talk(30)])
    assert result.ended_by == "hangup-verb"

What it does, per Twilio's documentation (twilio.com/docs/voice/twiml/*, docs/usage/webhooks/voice-webhooks):

* Every request is a POST to the *public* URL, signed with ``X-Twilio-Signature`` exactly as
  ``twilio.request_validator.RequestValidator.compute_signature(url, form)``; the transport only changes
  where the bytes go. The app must rebuild the public URL from its own configured base URL.
* The first request to ``voice_path`` carries CallStatus=ringing; later ones in-progress; a Record action
  posted after the caller hung up, and the call status callback, carry CallStatus=completed.
* Relative ``action``/``<Redirect>``/callback URLs resolve against the URL of the request whose response
  held them (query strings kept); a missing Gather/Record ``action`` means that same URL.
* <Gather>: digits stop at ``finishOnKey`` (not sent) or ``numDigits``; Twilio posts Digits, FinishedOnKey
  and msg=Gather End, or SpeechResult/Confidence for speech. No input (or only the finish key) falls
  through to the next verb unless ``actionOnEmptyResult="true"``.
* <Record>: an empty recording makes no action request and the next verb runs. Otherwise the action gets
  RecordingUrl/RecordingSid/RecordingDuration/Digits; Digits=hangup if the caller hung up, in which case the
  action's TwiML is ignored. Recording status callbacks go only to ``recordingStatusCallback``.
* <Dial> without ``action`` continues with the next verb; with one, the action gets DialCallStatus etc.
* <Reject> as the first verb leaves the call unanswered (CallStatus busy / no-answer, duration 0).

Not simulated (raises `CallFailed`, an AssertionError, so the gap is visible): ``method="GET"``
anywhere, <Dial> nouns other than <Number>, and verbs such as <Connect>, <Start>, <Pay>, <Enqueue>.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import struct
import uuid
import wave
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from io import BytesIO
from typing import Any, Protocol
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import requests
from twilio.request_validator import RequestValidator

DEFAULT_ACCOUNT_SID = "AC5e1f0c2a9b7d4e3f8a6c1b2d3e4f5a6b"
TWILIO_API_BASE = "https://api.twilio.com"
RECORDING_CALLBACK_MODES = ("after_action", "before_action", "twice", "after_call", "never")
DIAL_STATUSES = ("completed", "answered", "busy", "no-answer", "failed", "canceled")

# Longest prefixes first: +7 is shared by Kazakhstan (+76/+77) and Russia.
_COUNTRY_PREFIXES = (
    ("+998", "UZ"),
    ("+996", "KG"),
    ("+992", "TJ"),
    ("+993", "TM"),
    ("+995", "GE"),
    ("+76", "KZ"),
    ("+77", "KZ"),
    ("+7", "RU"),
    ("+1", "US"),
    ("+44", "GB"),
    ("+49", "DE"),
    ("+90", "TR"),
    ("+86", "CN"),
)


# ---------------------------------------------------------------- transports


class CallFailed(AssertionError):
    """The app answered in a way Twilio would refuse (an HTTP error, not TwiML, a loop)."""


class InputSource(Protocol):
    """Answers the call's questions as they come (a person at a terminal, a scripted caller)."""

    def answer(self, verb: str, attrs: dict[str, str]) -> Input:
        """The caller's input at this <Gather>, <Record> or <Dial>."""
        ...


class Transport(Protocol):
    """Delivers one signed POST and returns (status, body text)."""

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """POST form to the absolute public url."""
        ...


class FlaskTransport:
    """Sends requests into a Flask test client (path + query of the public URL only)."""

    def __init__(self, client: Any) -> None:
        """Wrap a Flask test client."""
        self.client = client

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """POST form to the app at the url's path and query."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        response = self.client.post(target, data=form, headers=headers)
        return response.status_code, response.get_data(as_text=True)


class HttpTransport:
    """Sends real HTTP to a live server, swapping the public scheme+host for server_base_url."""

    def __init__(self, server_base_url: str, *, timeout_s: float = 15.0) -> None:
        """Target server_base_url (e.g. http://127.0.0.1:PORT); 15 s is Twilio's webhook timeout."""
        self.server_base_url = server_base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.trust_env = False  # never route loopback test traffic through an env proxy

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """POST form to the live server at the url's path and query."""
        base, parts = urlsplit(self.server_base_url), urlsplit(url)
        target = urlunsplit((base.scheme, base.netloc, parts.path or "/", parts.query, ""))
        response = self.session.post(
            target, data=form, headers=headers, timeout=self.timeout_s, allow_redirects=False
        )
        return response.status_code, response.text


class RecordingStore(Protocol):
    """Where simulated recordings can be published (FakeTwilioApi fits)."""

    def add_recording(self, sid: str, audio: bytes, *, call_sid: str, duration_s: int) -> None:
        """Store a finished recording."""
        ...

    def add_call(self, sid: str, from_: str, to: str, status: str = "completed") -> None:
        """Store or update a call."""
        ...


# ---------------------------------------------------------------- caller inputs


@dataclass(frozen=True)
class Press:
    """Caller presses keys at a <Gather>."""

    digits: str


@dataclass(frozen=True)
class Speak:
    """Caller speaks at a <Gather input="... speech">."""

    text: str
    confidence: float = 0.9


@dataclass(frozen=True)
class Silence:
    """Caller gives no input (at a <Record> this is an empty recording)."""


@dataclass(frozen=True)
class Talk:
    """Caller leaves audio at a <Record>; finish is the key pressed, "" for timeout, "hangup"."""

    duration_s: int = 20
    finish: str = "#"
    audio: bytes | None = None  # what the stand-in serves as the recording; None: a tone of duration_s


@dataclass(frozen=True)
class EmptyRecording:
    """Caller stays silent at a <Record>."""


@dataclass(frozen=True)
class Hangup:
    """Caller hangs up now; at a <Record>, recorded_s seconds of audio were captured first."""

    recorded_s: int = 10


@dataclass(frozen=True)
class DialResult:
    """Outcome of a <Dial>."""

    status: str = "no-answer"
    duration_s: int = 0


Input = Press | Speak | Silence | Talk | EmptyRecording | Hangup | DialResult


# ---------------------------------------------------------------- results


RequestLog = tuple[str, dict[str, str], int, str]


@dataclass
class CallResult:
    """Everything observed during one simulated call."""

    call_sid: str
    events: list[tuple[Any, ...]] = field(default_factory=list)
    requests: list[RequestLog] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    says: list[dict[str, Any]] = field(default_factory=list)
    unused_inputs: list[Input] = field(default_factory=list)
    ended_by: str = ""
    call_status: str = ""
    duration_s: int = 0

    def said(self) -> list[str]:
        """Texts of every <Say> heard, in order (repeated per loop)."""
        return [event[1] for event in self.events if event[0] == "say"]

    def played(self) -> list[str]:
        """URLs of every <Play> heard, in order (repeated per loop)."""
        return [event[1] for event in self.events if event[0] == "play"]

    def gathers(self) -> list[dict[str, str]]:
        """Attributes of every <Gather> reached, in order."""
        return [event[1] for event in self.events if event[0] == "gather"]

    def last_gather(self) -> dict[str, str] | None:
        """Attributes of the last <Gather> reached, if any."""
        found = self.gathers()
        return found[-1] if found else None

    def requests_to(self, path: str) -> list[RequestLog]:
        """Requests whose URL path equals path."""
        return [entry for entry in self.requests if urlsplit(entry[0]).path == path]

    def paths(self) -> list[str]:
        """URL paths of all requests, in order."""
        return [urlsplit(entry[0]).path for entry in self.requests]


# ---------------------------------------------------------------- helpers


def make_wav(duration_s: float, *, sample_rate: int = 8000) -> bytes:
    """A mono 16-bit PCM WAV of a quiet 400 Hz tone, like Twilio's 8 kHz recordings."""
    period = sample_rate // 400
    cycle = b"".join(struct.pack("<h", int(3000 * math.sin(2 * math.pi * i / period))) for i in range(period))
    frames = int(duration_s * sample_rate)
    pcm = (cycle * (frames // period + 1))[: frames * 2]
    buffer = BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two-letter prefix + 32 hex chars."""
    return prefix + uuid.uuid4().hex


def country_of(number: str) -> str:
    """ISO country Twilio would report for an E.164 number ("" if unknown)."""
    for prefix, country in _COUNTRY_PREFIXES:
        if number.startswith(prefix):
            return country
    return ""


def _call_token(call_sid: str) -> str:
    """A CallToken shaped like Twilio's: URL-encoded JSON holding a JWT-like token."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(call_sid.encode()).digest()).decode().rstrip("=")
    token = {
        "parentCallInfoToken": f"eyJhbGciOiJFUzI1NiJ9.{digest}.{digest[:16]}",
        "identityHeaderTokens": [],
    }
    return quote(json.dumps(token, separators=(",", ":")), safe="")


def _rfc2822(moment: datetime) -> str:
    """Twilio's timestamp format, e.g. 'Tue, 10 Sep 2024 08:01:02 +0000'."""
    return format_datetime(moment.astimezone(UTC))


class _End:
    """Marker: the call is over."""


_END = _End()


@dataclass
class _Goto:
    """Next document: POST url with these extra params."""

    url: str
    params: dict[str, str]


@dataclass
class _Doc:
    """An already fetched TwiML document and the URL it came from."""

    url: str
    root: ET.Element


# ---------------------------------------------------------------- simulator


class TwilioSimulator:
    """Twilio's voice platform, reduced to what an IVR back end can observe."""

    def __init__(
        self,
        transport: Transport,
        *,
        auth_token: str,
        public_base_url: str,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        voice_path: str = "/voice/incoming",
        call_status_path: str | None = "/voice/status",
        recording_callbacks: str = "after_action",
        api_base_url: str = TWILIO_API_BASE,
        fake_api: RecordingStore | None = None,
        strict_callbacks: bool = True,
        on_event: Callable[[tuple[Any, ...]], None] | None = None,
    ) -> None:
        """Configure; recording_callbacks is one of RECORDING_CALLBACK_MODES; on_event hears each event."""
        if recording_callbacks not in RECORDING_CALLBACK_MODES:
            raise ValueError(f"recording_callbacks must be one of {RECORDING_CALLBACK_MODES}")
        self.transport = transport
        self.auth_token = auth_token
        self.validator = RequestValidator(auth_token)
        self.public_base_url = public_base_url.rstrip("/")
        self.account_sid = account_sid
        self.voice_path = voice_path
        self.call_status_path = call_status_path
        self.recording_callbacks = recording_callbacks
        self.api_base_url = api_base_url.rstrip("/")
        self.fake_api = fake_api
        self.strict_callbacks = strict_callbacks
        self.on_event = on_event
        self.last_result: CallResult | None = None  # kept even when a call raises, for post-mortems

    def url(self, path_or_url: str) -> str:
        """Absolute public URL for a path (absolute URLs pass through)."""
        if urlsplit(path_or_url).scheme:
            return path_or_url
        return f"{self.public_base_url}/{path_or_url.lstrip('/')}"

    def sign(self, url: str, form: dict[str, str]) -> str:
        """The X-Twilio-Signature Twilio would send for this URL and body."""
        return str(self.validator.compute_signature(url, form))

    def headers(
        self, url: str, form: dict[str, str], *, sign: bool = True, signature: str | None = None
    ) -> dict[str, str]:
        """Headers Twilio sends with a webhook."""
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        }
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        elif sign:
            headers["X-Twilio-Signature"] = self.sign(url, form)
        return headers

    def post(
        self, path_or_url: str, form: dict[str, str], *, sign: bool = True, signature: str | None = None
    ) -> tuple[int, str]:
        """One request: signed, unsigned (sign=False) or with a forged signature."""
        url = self.url(path_or_url)
        return self.transport.post(url, dict(form), self.headers(url, form, sign=sign, signature=signature))

    def voice_form(
        self,
        call_sid: str,
        from_: str,
        to: str,
        caller_name: str | None,
        call_status: str = "in-progress",
    ) -> dict[str, str]:
        """The 28 standard fields Twilio posts with every voice webhook of an inbound call."""
        # Twilio leaves City/State/Zip empty for numbers outside North America; only Country is set.
        from_country, to_country = country_of(from_), country_of(to)
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call_sid,
            "CallStatus": call_status,
            "CallToken": _call_token(call_sid),
            "Called": to,
            "CalledCity": "",
            "CalledCountry": to_country,
            "CalledState": "",
            "CalledZip": "",
            "Caller": from_,
            "CallerCity": "",
            "CallerCountry": from_country,
            "CallerName": caller_name or "",
            "CallerState": "",
            "CallerZip": "",
            "Direction": "inbound",
            "From": from_,
            "FromCity": "",
            "FromCountry": from_country,
            "FromState": "",
            "FromZip": "",
            "StirVerstat": "TN-Validation-Passed-C",
            "To": to,
            "ToCity": "",
            "ToCountry": to_country,
            "ToState": "",
            "ToZip": "",
        }

    def call(
        self,
        script: Iterable[Input] | InputSource,
        *,
        from_: str = "+77012345678",
        to: str = "+77172141424",
        caller_name: str | None = None,
        call_sid: str | None = None,
        max_requests: int = 200,
    ) -> CallResult:
        """Place one inbound call, answering prompts from script, and return what happened."""
        run = _CallRun(self, script, call_sid or new_sid("CA"), from_, to, caller_name, max_requests)
        self.last_result = run.result
        return run.run()


class _CallRun:
    """State of one call in progress."""

    def __init__(
        self,
        sim: TwilioSimulator,
        script: Iterable[Input] | InputSource,
        call_sid: str,
        from_: str,
        to: str,
        caller_name: str | None,
        max_requests: int,
    ) -> None:
        """Prepare a call."""
        self.sim = sim
        self.source: InputSource | None = script if hasattr(script, "answer") else None  # type: ignore[assignment]
        self.script: Iterator[Input] = iter(()) if self.source is not None else iter(script)  # type: ignore[arg-type]
        self.from_, self.to, self.caller_name = from_, to, caller_name
        self.max_requests = max_requests
        self.result = CallResult(call_sid=call_sid)
        self.started_at = datetime.now(UTC)
        self.clock = 0.0
        self.call_status = "in-progress"
        self.answered = False
        self.after_call: list[tuple[str, dict[str, str]]] = []

    # -- plumbing

    def run(self) -> CallResult:
        """Drive the call to its end."""
        if self.sim.fake_api is not None:
            self.sim.fake_api.add_call(self.result.call_sid, self.from_, self.to, "in-progress")
        doc: _Doc | None = self.fetch(self.sim.url(self.sim.voice_path), {}, call_status="ringing")
        while doc is not None:
            outcome = self.execute(doc)
            if isinstance(outcome, _Goto):
                doc = self.fetch(outcome.url, outcome.params)
            elif isinstance(outcome, _Doc):
                doc = outcome
            else:
                doc = None
        self.finish()
        return self.result

    def send(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        """Sign, send and log one request."""
        if len(self.result.requests) >= self.max_requests:
            raise CallFailed(
                f"call {self.result.call_sid} exceeded max_requests={self.max_requests} "
                f"(redirect loop?); last paths: {self.result.paths()[-5:]}"
            )
        status, text = self.sim.transport.post(url, dict(form), self.sim.headers(url, form))
        self.result.requests.append((url, dict(form), status, text))
        return status, text

    def base_form(self, call_status: str | None = None) -> dict[str, str]:
        """Standard voice fields for this call."""
        return self.sim.voice_form(
            self.result.call_sid, self.from_, self.to, self.caller_name, call_status or self.call_status
        )

    def fetch(self, url: str, params: dict[str, str], *, call_status: str | None = None) -> _Doc:
        """POST for TwiML and parse it as Twilio would."""
        status, text = self.send(url, {**self.base_form(call_status), **params})
        if status != 200:
            raise CallFailed(
                f"POST {url} answered HTTP {status}; Twilio would log error 11200 and play "
                f"'an application error has occurred'. Body: {text[:500]!r}"
            )
        try:
            root = ET.fromstring(text.encode("utf-8"))
        except ET.ParseError as error:
            raise CallFailed(
                f"POST {url} returned invalid XML ({error}); Twilio error 12100. Body: {text[:500]!r}"
            ) from None
        if root.tag != "Response":
            raise CallFailed(f"POST {url} returned <{root.tag}>, TwiML root must be <Response>")
        return _Doc(url, root)

    def callback(self, url: str, params: dict[str, str]) -> None:
        """Fire-and-forget webhook (status callbacks, ignored actions); Twilio wants any 2xx."""
        status, text = self.send(url, params)
        if self.sim.strict_callbacks and not 200 <= status < 300:
            raise CallFailed(f"callback POST {url} answered HTTP {status}: {text[:300]!r}")

    def next_input(self, verb: str, attrs: dict[str, str]) -> Input:
        """Next caller action; an exhausted script means the caller hangs up."""
        if self.source is not None:
            return self.source.answer(verb, attrs)
        return next(self.script, Hangup())

    def event(self, entry: tuple[Any, ...]) -> None:
        """Note what happened, and tell the simulator's listener (a terminal printing the call)."""
        self.result.events.append(entry)
        if self.sim.on_event is not None:
            self.sim.on_event(entry)

    def mismatch(self, verb: str, item: Input) -> AssertionError:
        """Error for a script item that cannot answer this verb."""
        return AssertionError(
            f"script gave {item!r} but the call is waiting at <{verb}>; events so far: {self.result.events}"
        )

    @staticmethod
    def check_method(element: ET.Element, attribute: str = "method") -> None:
        """Only POST is simulated."""
        method = element.get(attribute, "POST").upper()
        if method != "POST":
            raise CallFailed(f'<{element.tag} {attribute}="{method}">: the simulator only does POST')

    def caller_hangs_up(self) -> _End:
        """The caller puts the phone down."""
        self.event(("caller-hangup",))
        self.result.ended_by = "caller"
        self.call_status = "completed"
        return _END

    def finish(self) -> None:
        """Send the call status callback and any late recording callbacks."""
        self.result.call_status = self.call_status
        self.result.duration_s = round(self.clock) if self.answered else 0
        self.result.unused_inputs = list(self.script)
        if self.sim.fake_api is not None:
            self.sim.fake_api.add_call(self.result.call_sid, self.from_, self.to, self.call_status)
        if self.sim.call_status_path is not None:
            params = {
                **self.base_form(self.call_status),
                "CallDuration": str(self.result.duration_s),
                "Timestamp": _rfc2822(self.started_at + timedelta(seconds=self.clock)),
                "CallbackSource": "call-progress-events",
                "SequenceNumber": "0",
            }
            self.callback(self.sim.url(self.sim.call_status_path), params)
        for url, params in self.after_call:
            self.callback(url, params)

    # -- verbs

    def execute(self, doc: _Doc) -> _Goto | _Doc | _End:
        """Run a document's verbs in order."""
        handlers = {
            "Say": self.say,
            "Play": self.play,
            "Pause": self.pause,
            "Gather": self.gather,
            "Record": self.record,
            "Dial": self.dial,
            "Redirect": self.redirect,
            "Hangup": self.hangup,
            "Reject": self.reject,
        }
        for element in doc.root:
            handler = handlers.get(element.tag)
            if handler is None:
                raise CallFailed(f"<{element.tag}> from {doc.url} is not a verb the simulator knows")
            if element.tag != "Reject":
                self.answered = True
            outcome = handler(element, doc.url)
            if outcome is not None:
                return outcome
        self.result.ended_by = "no-more-verbs"
        self.call_status = "completed"
        return _END

    def say(self, element: ET.Element, doc_url: str) -> None:
        """<Say>: record the text (SSML children flattened)."""
        text = " ".join("".join(element.itertext()).split())
        loop = int(element.get("loop", "1"))
        repeats = 1 if loop <= 0 else loop  # loop="0" repeats until the caller acts; count it once
        language = element.get("language")
        self.result.says.append(
            {"text": text, "voice": element.get("voice"), "language": language, "loop": loop}
        )
        for _ in range(repeats):
            self.event(("say", text, language))
        self.clock += repeats * max(1.0, len(text.split()) / 2.5)

    def play(self, element: ET.Element, doc_url: str) -> None:
        """<Play>: record the URL or the DTMF digits."""
        url = (element.text or "").strip()
        loop = int(element.get("loop", "1"))
        repeats = 1 if loop <= 0 else loop
        if element.get("digits"):
            self.event(("play-digits", element.get("digits")))
        if url:
            for _ in range(repeats):
                self.event(("play", urljoin(doc_url, url)))
        self.clock += repeats * 5

    def pause(self, element: ET.Element, doc_url: str) -> None:
        """<Pause>: advance the clock."""
        length = int(element.get("length", "1"))
        self.event(("pause", length))
        self.clock += length

    def gather(self, element: ET.Element, doc_url: str) -> _Goto | _End | None:
        """<Gather>: play nested prompts, then take the caller's input."""
        attrs = dict(element.attrib)
        self.check_method(element)
        self.event(("gather", attrs))
        for child in element:
            if child.tag == "Say":
                self.say(child, doc_url)
            elif child.tag == "Play":
                self.play(child, doc_url)
            elif child.tag == "Pause":
                self.pause(child, doc_url)
            else:
                raise CallFailed(
                    f"<{child.tag}> inside <Gather>: Twilio allows only Say, Play, Pause (warning 13320)"
                )
        item = self.next_input("Gather", attrs)
        if "e=heard" in attrs.get("action", "") and self.source is None and not isinstance(item, Hangup):
            # The reference and PIN, or messages for the reporter: the scripted caller listens them
            # through (or hangs up during them); what the script says next is for the menu after them.
            self.script = itertools.chain([item], self.script)
            item = Silence()
        if isinstance(item, (Talk, EmptyRecording, DialResult)) and self.source is None:
            # The scripted caller waits for the beep (or the transfer) and presses nothing while the
            # prompts before it play: the Gather times out and Twilio runs the next verb.
            self.script = itertools.chain([item], self.script)
            item = Silence()
        if isinstance(item, Hangup):
            return self.caller_hangs_up()
        if not isinstance(item, (Press, Speak, Silence)):
            raise self.mismatch("Gather", item)
        inputs = set(attrs.get("input", "dtmf").split())
        action = urljoin(doc_url, attrs.get("action") or "")
        params: dict[str, str] | None = None
        if isinstance(item, Press) and "dtmf" in inputs:
            digits, finished_on = self.collect_digits(item.digits, attrs)
            self.clock += len(item.digits)
            if digits:
                params = {"Digits": digits, "FinishedOnKey": finished_on, "msg": "Gather End"}
        elif isinstance(item, Speak) and "speech" in inputs and item.text.strip():
            self.clock += 1 + len(item.text.split()) / 2.5
            params = {
                "SpeechResult": item.text,
                "Confidence": repr(float(item.confidence)),
                "msg": "Gather End",
            }
        if params is not None:
            return _Goto(action, params)
        self.clock += float(attrs.get("timeout", "5"))
        # Twilio: with no input the next verb runs, unless actionOnEmptyResult="true".
        if attrs.get("actionOnEmptyResult", "false").lower() == "true":
            return _Goto(action, {"msg": "Gather End"})
        return None

    @staticmethod
    def collect_digits(pressed: str, attrs: dict[str, str]) -> tuple[str, str]:
        """Digits Twilio reports and the finish key that ended entry ("" if timeout/numDigits)."""
        finish_key = attrs.get("finishOnKey", "#")
        limit = int(attrs["numDigits"]) if attrs.get("numDigits") else None
        collected = ""
        for key in pressed:
            if key not in "0123456789*#":
                raise ValueError(f"Press({pressed!r}): {key!r} is not a phone key")
            if finish_key and key == finish_key:
                return collected, key
            collected += key
            if limit is not None and len(collected) >= limit:
                break
        return collected, ""

    def record(self, element: ET.Element, doc_url: str) -> _Goto | _Doc | _End | None:
        """<Record>: capture audio, post the action, send recording status callbacks."""
        attrs = dict(element.attrib)
        self.check_method(element)
        self.check_method(element, "recordingStatusCallbackMethod")
        self.event(("record", attrs))
        action = urljoin(doc_url, attrs.get("action") or "")
        callback_url = (
            urljoin(doc_url, attrs["recordingStatusCallback"])
            if attrs.get("recordingStatusCallback")
            else None
        )
        callback_events = set(
            attrs.get("recordingStatusCallbackEvent", "completed").replace(",", " ").split()
        )
        mode = self.sim.recording_callbacks
        item = self.next_input("Record", attrs)
        silent = isinstance(item, (EmptyRecording, Silence)) or (
            isinstance(item, (Hangup, Talk))
            and (item.recorded_s if isinstance(item, Hangup) else item.duration_s) <= 0
        )
        if silent:
            self.clock += float(attrs.get("timeout", "5"))
            if callback_url and "absent" in callback_events and mode != "never":
                self.callback(callback_url, self.recording_params(new_sid("RE"), 0, "absent"))
            # Twilio: an empty recording makes no action request; the next verb runs.
            return self.caller_hangs_up() if isinstance(item, Hangup) else None
        audio = None
        if isinstance(item, Talk):
            duration, finish, audio = item.duration_s, item.finish, item.audio
        elif isinstance(item, Hangup):
            duration, finish = item.recorded_s, "hangup"
        else:
            raise self.mismatch("Record", item)
        digits = self.record_digits(attrs, duration, finish)
        duration = min(duration, int(attrs.get("maxLength", "3600")))
        sid = new_sid("RE")
        self.result.recordings.append(sid)
        if callback_url and "in-progress" in callback_events and mode != "never":
            self.callback(callback_url, self.recording_params(sid, None, "in-progress"))
        self.clock += duration
        if self.sim.fake_api is not None:
            self.sim.fake_api.add_recording(
                sid, audio or make_wav(duration), call_sid=self.result.call_sid, duration_s=duration
            )
        params = {
            "RecordingUrl": self.recording_url(sid),
            "RecordingSid": sid,
            "RecordingDuration": str(duration),
        }
        if digits is not None:
            params["Digits"] = digits
        completed = (
            self.recording_params(sid, duration, "completed")
            if callback_url and "completed" in callback_events
            else None
        )
        if completed and mode == "before_action":
            self.callback(callback_url, completed)  # type: ignore[arg-type]
        if finish == "hangup":
            # Twilio still requests the action after a hangup but ignores the TwiML it returns.
            self.call_status = "completed"
            self.callback(action, {**self.base_form(), **params})
            doc: _Doc | _End = self.caller_hangs_up()
        else:
            doc = self.fetch(action, params)
        if completed and callback_url:
            if mode in ("after_action", "twice"):
                self.callback(callback_url, completed)
            if mode == "twice":
                self.callback(callback_url, completed)
            if mode == "after_call":
                self.after_call.append((callback_url, completed))
        return doc

    @staticmethod
    def record_digits(attrs: dict[str, str], duration: int, finish: str) -> str | None:
        """Digits Twilio reports for how the recording ended (None: maxLength or silence)."""
        if finish == "hangup":
            return "hangup"
        if duration >= int(attrs.get("maxLength", "3600")) or finish == "":
            return None
        keys = attrs.get("finishOnKey", "1234567890*#")
        if len(finish) != 1 or finish not in keys:
            raise CallFailed(
                f"Talk(finish={finish!r}) but <Record finishOnKey={keys!r}>: that key would not end "
                "the recording; use finish='' for a silence timeout"
            )
        return finish

    def recording_url(self, sid: str) -> str:
        """RecordingUrl as Twilio sends it (no extension)."""
        return f"{self.sim.api_base_url}/2010-04-01/Accounts/{self.sim.account_sid}/Recordings/{sid}"

    def recording_params(self, sid: str, duration: int | None, status: str) -> dict[str, str]:
        """Body of a recording status callback."""
        params = {
            "AccountSid": self.sim.account_sid,
            "CallSid": self.result.call_sid,
            "RecordingSid": sid,
            "RecordingUrl": self.recording_url(sid),
            "RecordingStatus": status,
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
            "RecordingStartTime": _rfc2822(self.started_at + timedelta(seconds=self.clock)),
        }
        if duration is not None:
            params["RecordingDuration"] = str(duration)
        if status == "absent":
            params["ErrorCode"] = "16102"  # Twilio: "Recording was detected as silent and not stored"
        return params

    def dial(self, element: ET.Element, doc_url: str) -> _Goto | _End | None:
        """<Dial>: connect (per the script) and post the action if there is one."""
        attrs = dict(element.attrib)
        self.check_method(element)
        nouns = [child for child in element]
        unsupported = [child.tag for child in nouns if child.tag != "Number"]
        if unsupported:
            raise CallFailed(f"<Dial><{unsupported[0]}> is not simulated (only <Number>)")
        number = (nouns[0].text if nouns else element.text) or ""
        self.event(("dial", number.strip(), attrs))
        item = self.next_input("Dial", attrs)
        if isinstance(item, Hangup):
            return self.caller_hangs_up()
        if not isinstance(item, DialResult):
            raise self.mismatch("Dial", item)
        if item.status not in DIAL_STATUSES:
            raise ValueError(f"DialResult.status must be one of {DIAL_STATUSES}")
        answered = item.status in ("completed", "answered")
        self.clock += item.duration_s if answered else float(attrs.get("timeout", "30"))
        if not attrs.get("action"):
            return None  # Twilio: without an action the next verb runs
        params = {
            "DialCallStatus": item.status,
            "DialCallSid": new_sid("CA"),
            "DialBridged": str(answered).lower(),
        }
        if answered:
            params["DialCallDuration"] = str(item.duration_s)
        return _Goto(urljoin(doc_url, attrs["action"]), params)

    def redirect(self, element: ET.Element, doc_url: str) -> _Goto:
        """<Redirect>: continue with the TwiML at its URL."""
        self.check_method(element)
        target = (element.text or "").strip()
        if not target:
            raise CallFailed(f"<Redirect> without a URL in the response from {doc_url}")
        url = urljoin(doc_url, target)
        self.event(("redirect", url))
        return _Goto(url, {})

    def hangup(self, element: ET.Element, doc_url: str) -> _End:
        """<Hangup>: end the call."""
        self.event(("hangup",))
        self.result.ended_by = "hangup-verb"
        self.call_status = "completed"
        return _END

    def reject(self, element: ET.Element, doc_url: str) -> _End:
        """<Reject>: refuse the call; unanswered only if it is the first verb."""
        reason = element.get("reason", "rejected")
        self.event(("reject", reason))
        self.result.ended_by = "reject"
        if self.answered:
            self.call_status = "completed"
        else:
            # Twilio: the call ends busy or no-answer depending on reason, and is never answered.
            self.call_status = "busy" if reason == "busy" else "no-answer"
        return _END
