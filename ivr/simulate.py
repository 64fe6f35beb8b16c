"""Try the line without a phone: a call played against the real app, signed as Twilio signs it.

`Sandbox` runs the real app (`create_app`: webhooks, signature checks, sealed call state,
intake rows) on scratch storage of its own: a SQLite file, a recordings folder and a queue
name nobody else reads, all in a temporary folder. So a simulated report never lands among the
operators' real cases, and the flow files, prompt audio and Redis are the configured ones.

`CallSimulator` plays Twilio's side of one inbound call: it POSTs each webhook with
`X-Twilio-Signature` (twilio's `RequestValidator`), runs the TwiML verbs it gets back (Say,
Play, Gather, Record, Dial, Redirect, Hangup), and asks a `Caller` for keys, speech and the
recording. What the caller hears is reported as `Heard` lines; a Kazakh prompt file is shown
as the words behind it (`ivr.prompts.prompt_text`).

`MediaStandIn` serves the recording the way Twilio's REST API does (and accepts the deletes
the workers make), so `ivr simulate --worker` can run the worker steps on the same call.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import secrets
import shutil
import struct
import tempfile
import threading
import uuid
import wave
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urljoin, urlsplit

from pydantic import SecretStr
from redis.exceptions import RedisError
from twilio.request_validator import RequestValidator

from ivr.flow.catalog import Line
from ivr.flow.schema import Flow
from ivr.settings import Settings

DEFAULT_FROM = "+77010000000"
PLACEHOLDER_ACCOUNT_SID = "AC" + "51" * 16
PLACEHOLDER_PUBLIC_URL = "https://ivr.simulated.invalid"
TONE_S = 5
MAX_REQUESTS = 200
KEYPAD = frozenset("0123456789*#")

HeardKind = Literal["say", "play", "recording", "keys", "speech", "silence", "record", "dial", "end", "note"]


# --------------------------------------------------------------------------- what the caller hears


@dataclass(frozen=True)
class Heard:
    """One line of the call's transcript: something said or played, or something the caller did."""

    kind: HeardKind
    text: str
    language: str | None = None
    source: str | None = None  # the prompt file behind a played text, e.g. `kk/welcome.wav`

    def __str__(self) -> str:
        if self.kind in ("say", "play"):
            language = f"[{self.language}] " if self.language else ""
            source = f"  ({self.source})" if self.source else ""
            return f"  {language}{self.text}{source}"
        marks = {"keys": "  > keys ", "speech": "  > says ", "silence": "  > ", "record": "  ● ",
                 "recording": "  ▶ ", "dial": "  ☎ ", "end": "  ■ ", "note": "  · "}
        return f"{marks[self.kind]}{self.text}"


@dataclass
class SimulatedCall:
    """Everything one simulated call did."""

    call_sid: str
    to: str
    from_: str
    line: str = ""
    flow_version: str = ""
    heard: list[Heard] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    ended_by: str = ""
    duration_s: int = 0
    reference: str | None = None

    def transcript(self) -> str:
        """The call as text, one line per thing heard or done."""
        return "\n".join(str(h) for h in self.heard)

    def said(self) -> list[str]:
        """Texts heard (spoken or played), in order."""
        return [h.text for h in self.heard if h.kind in ("say", "play")]


@dataclass(frozen=True)
class Recording:
    """Audio the caller leaves at a <Record>: WAV bytes and their length."""

    audio: bytes
    duration_s: int
    name: str = "recording"


@dataclass(frozen=True)
class GatherPrompt:
    """What a <Gather> waits for."""

    num_digits: int | None
    finish_on_key: str
    accepts_speech: bool
    timeout_s: int


class HangUp:
    """The caller puts the phone down."""


HANG_UP = HangUp()


@dataclass(frozen=True)
class Speech:
    """Words the caller says at a <Gather> that listens for speech."""

    text: str


GatherInput = str | Speech | None | HangUp  # keys, words, silence, or hanging up


class Caller(Protocol):
    """Where the caller's answers come from: a script, or a person at the terminal."""

    def gather(self, prompt: GatherPrompt) -> GatherInput:
        """Keys, speech, None for silence, or HANG_UP."""

    def record(self) -> Recording | HangUp | None:
        """The recording, None for silence, or HANG_UP."""


# --------------------------------------------------------------------------- callers and audio


def parse_keys(script: str) -> list[str]:
    """`2,1,05` -> ["2", "1", "05"]; an empty item is silence, `say:...` is speech, `hangup` hangs up."""
    items = [item.strip() for item in script.split(",")] if script.strip() else []
    for item in items:
        if item in ("", "hangup") or item.startswith("say:"):
            continue
        wrong = [key for key in item if key not in KEYPAD]
        if wrong:
            raise ValueError(f"{item!r}: {wrong[0]!r} is not a key on a phone (use 0-9, * and #)")
    return items


def _gather_input(item: str) -> GatherInput:
    if item == "hangup":
        return HANG_UP
    if item == "":
        return None
    if item.startswith("say:"):
        return Speech(item[4:].strip())
    return item


class ScriptedCaller:
    """Answers from a list of inputs (`--keys`); hangs up when they run out."""

    def __init__(self, keys: Iterable[str], recording: Recording | None = None, *, tone_s: int = TONE_S) -> None:
        self.keys: Iterator[str] = iter(list(keys))
        self.recording = recording or tone_recording(tone_s)

    def gather(self, prompt: GatherPrompt) -> GatherInput:
        """The next scripted input; none left means the caller hangs up."""
        item = next(self.keys, None)
        return HANG_UP if item is None else _gather_input(item)

    def record(self) -> Recording | HangUp | None:
        """The same recording every time the line asks."""
        return self.recording


class TerminalCaller:
    """A person at the terminal types the keys; the recording is the given WAV or asked for."""

    def __init__(
        self,
        recording: Recording | None = None,
        *,
        read: Callable[[str], str] = input,
        write: Callable[[str], None] = print,
    ) -> None:
        self.recording = recording
        self.read = read
        self.write = write

    def gather(self, prompt: GatherPrompt) -> GatherInput:
        """Ask for keys until they are keys (Enter: silence, q: hang up, say:... speech)."""
        wait = f"{prompt.num_digits} key{'s' if prompt.num_digits != 1 else ''}" if prompt.num_digits else "keys"
        finish = f", end with {prompt.finish_on_key}" if prompt.finish_on_key else ""
        speech = ", or say:words" if prompt.accepts_speech else ""
        while True:
            try:
                answer = self.read(f"  keys ({wait}{finish}{speech}; Enter: silence, q: hang up)> ").strip()
            except EOFError:
                return HANG_UP
            if answer in ("q", "quit"):
                return HANG_UP
            try:
                parse_keys(answer)
            except ValueError as exc:
                self.write(f"  {exc}")
                continue
            return _gather_input(answer)

    def record(self) -> Recording | HangUp | None:
        """The given WAV, or ask for one (Enter: a few seconds of tone)."""
        if self.recording is not None:
            return self.recording
        while True:
            try:
                answer = self.read(f"  record (a WAV file; Enter: {TONE_S} s of tone; s: silence; q: hang up)> ")
            except EOFError:
                return HANG_UP
            answer = answer.strip()
            if answer in ("q", "quit"):
                return HANG_UP
            if answer == "s":
                return None
            if not answer:
                return tone_recording(TONE_S)
            try:
                return read_wav(Path(answer))
            except ValueError as exc:
                self.write(f"  {exc}")


def read_wav(path: Path) -> Recording:
    """A WAV file as the caller's recording; ValueError if it is not a PCM WAV."""
    try:
        audio = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    return wav_recording(audio, path.name)


def wav_recording(audio: bytes, name: str = "recording.wav") -> Recording:
    """WAV bytes as the caller's recording; ValueError if they are not a PCM WAV with sound."""
    try:
        with wave.open(io.BytesIO(audio), "rb") as reader:
            frames, rate = reader.getnframes(), reader.getframerate()
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{name} is not a PCM WAV file ({exc}); convert it: sox in.mp3 -b 16 out.wav") from None
    if frames == 0 or rate == 0:
        raise ValueError(f"{name} holds no audio")
    return Recording(audio, max(1, round(frames / rate)), name)


def tone_recording(duration_s: int) -> Recording:
    """A quiet 400 Hz tone, 8 kHz mono 16-bit: a stand-in recording when the caller gives none."""
    rate, period = 8000, 20
    cycle = b"".join(struct.pack("<h", int(3000 * math.sin(2 * math.pi * i / period))) for i in range(period))
    frames = duration_s * rate
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes((cycle * (frames // period + 1))[: frames * 2])
    return Recording(buffer.getvalue(), duration_s, f"{duration_s} s of tone")


# --------------------------------------------------------------------------- Twilio's side of the call


class Transport(Protocol):
    """Delivers one signed POST to the app and returns (status, body)."""

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """POST `form` to the absolute public `url`."""


class AppTransport:
    """Into a Flask app in this process, through its test client (path and query of the URL)."""

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """POST to the app."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        response = self.client.post(target, data=form, headers=headers)
        return response.status_code, response.get_data(as_text=True)


class CallFailed(RuntimeError):
    """The app answered a webhook with something Twilio would refuse (an error, not TwiML)."""


PromptDescriber = Callable[[str], tuple[str, str | None, str | None]]  # url -> (text, language, source)


class CallSimulator:
    """Twilio's side of inbound calls, as far as the app can tell: signed webhooks, TwiML run in order."""

    def __init__(
        self,
        transport: Transport,
        *,
        auth_token: str,
        public_base_url: str,
        account_sid: str,
        describe_play: PromptDescriber | None = None,
        on_heard: Callable[[Heard], None] | None = None,
        media: MediaStandIn | None = None,
        api_base_url: str = "https://api.twilio.com",
    ) -> None:
        self.transport = transport
        self.validator = RequestValidator(auth_token)
        self.public_base_url = public_base_url.rstrip("/")
        self.account_sid = account_sid
        self.describe_play = describe_play or (lambda url: (url, None, None))
        self.on_heard = on_heard
        self.media = media
        self.api_base_url = (media.base_url if media else api_base_url).rstrip("/")
        self.placed: list[str] = []  # call SIDs, for clean-up

    def call(self, caller: Caller, *, to: str, from_: str = DEFAULT_FROM) -> SimulatedCall:
        """Place one call and play it to its end."""
        result = SimulatedCall(call_sid="CA" + uuid.uuid4().hex, to=to, from_=from_)
        self.placed.append(result.call_sid)
        run = _CallRun(self, caller, result)
        run.run()
        return result

    def sign(self, url: str, form: dict[str, str]) -> str:
        """X-Twilio-Signature for this URL and form."""
        return str(self.validator.compute_signature(url, form))

    def url(self, path: str) -> str:
        """The public URL of a path."""
        return f"{self.public_base_url}/{path.lstrip('/')}"


class _CallRun:
    """One call in progress."""

    def __init__(self, sim: CallSimulator, caller: Caller, result: SimulatedCall) -> None:
        self.sim = sim
        self.caller = caller
        self.result = result
        self.requests = 0
        self.clock_s = 0.0
        self.status = "ringing"

    def hear(self, heard: Heard) -> None:
        self.result.heard.append(heard)
        if self.sim.on_heard is not None:
            self.sim.on_heard(heard)

    def form(self, **extra: str) -> dict[str, str]:
        r = self.result
        return {
            "AccountSid": self.sim.account_sid, "ApiVersion": "2010-04-01", "CallSid": r.call_sid,
            "CallStatus": self.status, "Called": r.to, "Caller": r.from_, "Direction": "inbound",
            "From": r.from_, "To": r.to, "FromCountry": "KZ", "ToCountry": "KZ", **extra,
        }  # fmt: skip

    def post(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        self.requests += 1
        if self.requests > MAX_REQUESTS:
            raise CallFailed(f"more than {MAX_REQUESTS} webhooks in one call: the flow loops")
        headers = {"X-Twilio-Signature": self.sim.sign(url, form), "User-Agent": "TwilioProxy/1.1"}
        return self.sim.transport.post(url, form, headers)

    def fetch(self, url: str, **extra: str) -> tuple[str, ET.Element]:
        status, body = self.post(url, self.form(**extra))
        if status != 200:
            raise CallFailed(f"POST {urlsplit(url).path} answered HTTP {status}; Twilio would say "
                             f"'an application error has occurred' and use the fallback URL")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise CallFailed(f"POST {urlsplit(url).path} did not answer TwiML ({exc})") from None
        self.status = "in-progress"
        return url, root

    def run(self) -> None:
        document: tuple[str, ET.Element] | None = self.fetch(self.sim.url("/voice/incoming"))
        while document is not None:
            document = self.execute(*document)
        self.status = "completed"
        self.result.duration_s = round(self.clock_s)
        # Twilio's call status callback: where the call ended, for the figures and the workers.
        self.post(self.sim.url("/voice/status"), self.form(CallDuration=str(self.result.duration_s)))

    def end(self, how: str) -> None:
        self.result.ended_by = how
        self.hear(Heard("end", {"hangup": "the line hung up", "caller": "you hung up",
                                "no-more-verbs": "the call ended"}.get(how, how)))

    def execute(self, url: str, root: ET.Element) -> tuple[str, ET.Element] | None:
        for verb in root:
            if verb.tag in ("Say", "Play"):
                self.speak(verb, url)
            elif verb.tag == "Pause":
                self.clock_s += float(verb.get("length", "1"))
            elif verb.tag == "Gather":
                following = self.gather(verb, url)
                if following is not None:
                    return following if isinstance(following, tuple) else None
            elif verb.tag == "Record":
                following = self.record(verb, url)
                if following is not None:
                    return following if isinstance(following, tuple) else None
            elif verb.tag == "Dial":
                return self.dial(verb, url)
            elif verb.tag == "Redirect":
                return self.fetch(urljoin(url, (verb.text or "").strip()))
            elif verb.tag == "Hangup":
                self.end("hangup")
                return None
            else:
                self.hear(Heard("note", f"<{verb.tag}> is not simulated; skipped"))
        self.end("no-more-verbs")
        return None

    def speak(self, verb: ET.Element, url: str) -> None:
        if verb.tag == "Say":
            text = " ".join("".join(verb.itertext()).split())
            language = (verb.get("language") or "")[:2] or None
            self.hear(Heard("say", text, language))
            self.clock_s += max(1.0, len(text.split()) / 2.5)
            return
        target = urljoin(url, (verb.text or "").strip())
        if target.startswith(self.sim.api_base_url) and "/Recordings/" in target:
            self.hear(Heard("recording", "your recording plays back"))
        else:
            text, language, source = self.sim.describe_play(target)
            self.hear(Heard("play", text, language, source))
        self.clock_s += 3

    def gather(self, verb: ET.Element, url: str) -> tuple[str, ET.Element] | HangUp | None:
        for child in verb:
            if child.tag in ("Say", "Play"):
                self.speak(child, url)
        inputs = set((verb.get("input") or "dtmf").split())
        prompt = GatherPrompt(
            num_digits=int(verb.get("numDigits", "0")) or None,
            finish_on_key=verb.get("finishOnKey", "#"),
            accepts_speech="speech" in inputs,
            timeout_s=int(verb.get("timeout", "5")),
        )
        answer = self.caller.gather(prompt)
        action = urljoin(url, verb.get("action") or url)
        if isinstance(answer, HangUp):
            self.end("caller")
            return HANG_UP
        if isinstance(answer, Speech) and prompt.accepts_speech and answer.text:
            self.hear(Heard("speech", answer.text))
            self.clock_s += 2
            return self.fetch(action, SpeechResult=answer.text, Confidence="0.9")
        if isinstance(answer, str) and answer:
            digits, finished_on = _collect(answer, prompt)
            self.hear(Heard("keys", answer))
            self.clock_s += len(answer)
            if digits:
                return self.fetch(action, Digits=digits, FinishedOnKey=finished_on)
        self.hear(Heard("silence", "(silence)" if not isinstance(answer, Speech) else
                        "(speech is not listened to here: silence)"))
        self.clock_s += prompt.timeout_s
        return None  # Twilio runs the next verb (our no-input Redirect)

    def record(self, verb: ET.Element, url: str) -> tuple[str, ET.Element] | HangUp | None:
        recording = self.caller.record()
        if isinstance(recording, HangUp):
            self.end("caller")
            return HANG_UP
        if recording is None:
            self.hear(Heard("record", "recording: (silence)"))
            self.clock_s += float(verb.get("timeout", "5"))
            return None  # an empty recording makes no action request
        max_length = int(verb.get("maxLength", "3600"))
        duration = min(recording.duration_s, max_length)
        sid = "RE" + uuid.uuid4().hex
        self.result.recordings.append(sid)
        self.hear(Heard("record", f"recording: {recording.name}, {duration} s"))
        self.clock_s += duration
        if self.sim.media is not None:
            self.sim.media.add(sid, recording.audio, call_sid=self.result.call_sid)
        media_url = f"{self.sim.api_base_url}/2010-04-01/Accounts/{self.sim.account_sid}/Recordings/{sid}"
        params = {"RecordingSid": sid, "RecordingUrl": media_url, "RecordingDuration": str(duration)}
        finish = verb.get("finishOnKey", "#")
        if finish:
            params["Digits"] = finish[:1]  # the caller ended the recording with the finish key
        following = self.fetch(urljoin(url, verb.get("action") or url), **params)
        callback = verb.get("recordingStatusCallback")
        if callback:
            status, _ = self.post(urljoin(url, callback), {
                "AccountSid": self.sim.account_sid, "CallSid": self.result.call_sid, "RecordingSid": sid,
                "RecordingUrl": media_url, "RecordingStatus": "completed", "RecordingDuration": str(duration),
                "RecordingChannels": "1", "RecordingSource": "RecordVerb",
            })  # fmt: skip
            if not 200 <= status < 300:
                raise CallFailed(f"the recording status callback answered HTTP {status}")
        return following

    def dial(self, verb: ET.Element, url: str) -> tuple[str, ET.Element] | None:
        number = " ".join("".join(verb.itertext()).split())
        self.hear(Heard("dial", f"transfer to {number}: no answer (simulated)"))
        self.clock_s += float(verb.get("timeout", "30"))
        action = verb.get("action")
        if not action:
            return None
        return self.fetch(urljoin(url, action), DialCallStatus="no-answer", DialCallDuration="0")


def _collect(pressed: str, prompt: GatherPrompt) -> tuple[str, str]:
    """The digits Twilio would post for these key presses, and the finish key if one ended them."""
    collected = ""
    for key in pressed:
        if prompt.finish_on_key and key == prompt.finish_on_key:
            return collected, key
        collected += key
        if prompt.num_digits is not None and len(collected) >= prompt.num_digits:
            break
    return collected, ""


# --------------------------------------------------------------------------- Twilio's media, locally


class MediaStandIn:
    """Recordings served like Twilio's REST API, from memory on 127.0.0.1, for the workers to fetch.

    Answers GET .../Recordings/{RE}[.wav|.mp3|.json] and DELETE .../Recordings/{RE}.json and
    .../Calls/{CA}.json, with the account's basic auth, as the workers' downloader expects.
    """

    _PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/(?P<what>Recordings|Calls)/"
                       r"(?P<sid>(?:RE|CA)[0-9a-f]{32})(?P<ext>\.wav|\.mp3|\.json)?$")

    def __init__(self, account_sid: str, auth_token: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.recordings: dict[str, bytes] = {}
        self.deleted: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="media-stand-in", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        """Where the stand-in listens, e.g. http://127.0.0.1:40123."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, sid: str, audio: bytes, *, call_sid: str) -> None:
        """Publish a finished recording."""
        with self._lock:
            self.recordings[sid] = audio

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> MediaStandIn:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _answer(self, method: str, path: str, authorization: str | None) -> tuple[int, str, bytes]:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if authorization != expected:
            return 401, "application/json", b'{"code": 20003, "message": "Authenticate", "status": 401}'
        found = self._PATH.match(path)
        if found is None or found["account"] != self.account_sid:
            return 404, "application/json", b'{"code": 20404, "status": 404}'
        sid = found["sid"]
        with self._lock:
            if found["what"] == "Calls":
                if method == "DELETE":
                    self.deleted.append(sid)
                    return 204, "", b""
                return 200, "application/json", json.dumps({"sid": sid, "status": "completed"}).encode()
            audio = self.recordings.get(sid)
            if audio is None:
                return 404, "application/json", b'{"code": 20404, "status": 404}'
            if method == "DELETE":
                del self.recordings[sid]
                self.deleted.append(sid)
                return 204, "", b""
        if found["ext"] == ".json":
            return 200, "application/json", json.dumps({"sid": sid, "status": "completed"}).encode()
        return 200, "audio/x-wav", audio

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, method: str) -> None:
                status, content_type, body = stand_in._answer(method, self.path.split("?")[0],
                                                              self.headers.get("Authorization"))
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body and method != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._reply("GET")

            def do_DELETE(self) -> None:
                self._reply("DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the terminal shows the call, not HTTP lines

        return Handler


def media_address(api_base: str) -> tuple[str, int] | None:
    """The loopback (host, port) of a configured `twilio_api_base`, if the stand-in can serve it."""
    parts = urlsplit(api_base)
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost") and parts.port:
        return "127.0.0.1", parts.port
    return None


# --------------------------------------------------------------------------- the sandbox


@dataclass(frozen=True)
class CaseOutcome:
    """What the workers made of a simulated call's recordings."""

    case_id: int | None
    status: str | None
    transcript_status: str | None
    transcripts: tuple[str, ...]
    intake_statuses: tuple[str, ...]
    errors: tuple[str, ...] = ()
    deleted_at_twilio: tuple[str, ...] = ()


class Sandbox:
    """The real app on scratch storage, for simulated calls (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        flow_path: Path | None = None,
        with_media: bool = False,
        quiet: bool = False,
    ) -> None:
        from ivr.app import create_app
        from ivr.migrations import upgrade

        self.folder = Path(tempfile.mkdtemp(prefix="ivr-simulate-"))
        token = settings.twilio_auth_token.get_secret_value() or secrets.token_hex(16)
        account_sid = settings.twilio_account_sid
        if not re.fullmatch(r"AC[0-9a-fA-F]{32}", account_sid or ""):
            account_sid = PLACEHOLDER_ACCOUNT_SID
        self.media: MediaStandIn | None = None
        api_base = settings.twilio_api_base
        try:
            if with_media:
                # Serve the recording where the settings say Twilio is, when that is this machine.
                host, port = media_address(api_base) or ("127.0.0.1", 0)
                self.media = MediaStandIn(account_sid, token, host=host, port=port)
                api_base = self.media.base_url
            overrides: dict[str, Any] = {
                "database_url": f"sqlite:///{self.folder / 'simulate.db'}",
                "recordings_dir": self.folder / "recordings",
                "queue_name": f"simulate-{secrets.token_hex(6)}",
                "transcribe_queue_name": f"simulate-transcribe-{secrets.token_hex(6)}",
                "twilio_account_sid": account_sid,
                "twilio_auth_token": SecretStr(token),
                "twilio_api_base": api_base,
                "public_base_url": settings.public_base_url or PLACEHOLDER_PUBLIC_URL,
                "verify_signatures": True,
                "urgent_webhook_url": "",  # a simulated urgent report must not page anybody
            }
            if flow_path is not None:
                overrides["flow_path"] = Path(flow_path)
            if quiet:
                overrides["log_level"] = "WARNING"
            self.settings = settings.model_copy(update=overrides)
            self._call_sids: list[str] = []
            upgrade(self.settings.database_url, data_keys=self.settings.data_keys)
            self.app = create_app(self.settings)
        except BaseException:
            self._remove()
            raise

    @property
    def flows(self) -> Any:
        """The app's flow catalog (every line)."""
        return self.app.extensions["ivr"].flows

    def line_for(self, to: str | None = None, line_name: str | None = None) -> tuple[Line, str]:
        """The line to call and the number to dial: by name, by number, or the default line."""
        config = self.flows.config
        if line_name:
            line = config.line_named(line_name)
            if line is None:
                names = ", ".join(x.name for x in config.lines)
                raise ValueError(f"no line {line_name!r}; lines: {names}")
            return line, to or (line.numbers[0] if line.numbers else "+70000000000")
        if to:
            return config.line_for(to), to
        line = config.default
        return line, line.numbers[0] if line.numbers else "+70000000000"

    def call(
        self,
        caller: Caller,
        *,
        to: str | None = None,
        line: str | None = None,
        from_: str = DEFAULT_FROM,
        on_heard: Callable[[Heard], None] | None = None,
    ) -> SimulatedCall:
        """One simulated call to a number (or line) of this line; returns its transcript and reference."""
        chosen, number = self.line_for(to, line)
        flow: Flow = self.flows.registry(chosen).current
        simulator = CallSimulator(
            AppTransport(self.app),
            auth_token=self.settings.twilio_auth_token.get_secret_value(),
            public_base_url=self.settings.public_base_url,
            account_sid=self.settings.twilio_account_sid,
            describe_play=self._describer(flow),
            on_heard=on_heard,
            media=self.media,
            api_base_url=self.settings.twilio_api_base,
        )
        try:
            result = simulator.call(caller, to=number, from_=from_)
        finally:
            self._call_sids.extend(simulator.placed)
        result.line, result.flow_version = chosen.name, flow.version
        result.reference = self.reference_of(result.call_sid)
        return result

    def _describer(self, flow: Flow) -> PromptDescriber:
        from ivr.prompts import prompt_text

        def describe(url: str) -> tuple[str, str | None, str | None]:
            path = urlsplit(url).path
            if "/voice/prompts/" not in path:
                return url, None, None
            relative = unquote(path.split("/voice/prompts/", 1)[1])
            text = prompt_text(flow, relative)
            if text is None:  # a prompt of another version or line
                for other in {self.flows.registry(line).current for line in self.flows.lines}:
                    text = prompt_text(other, relative)
                    if text is not None:
                        break
            language = relative.split("/", 1)[0] if "/" in relative else None
            return text or f"(audio {relative})", language, relative

        return describe

    def reference_of(self, call_sid: str) -> str | None:
        """The case reference stored for a call (None if it never recorded)."""
        from sqlalchemy import select

        from ivr.models import Call

        with self.app.extensions["ivr"].sessions() as session:
            return session.scalar(select(Call.reference).where(Call.call_sid == call_sid))

    def intake_ids(self, call_sid: str) -> list[int]:
        """The call's intake rows (one per recording kept)."""
        from sqlalchemy import select

        from ivr.models import Call, Intake

        with self.app.extensions["ivr"].sessions() as session:
            return list(session.scalars(select(Intake.id).join(Call).where(Call.call_sid == call_sid)
                                        .order_by(Intake.id)))

    def process(self, call: SimulatedCall, process_intake: Callable[[int], None]) -> CaseOutcome:
        """Run the worker's `process_intake` on each of the call's intakes; report the case it made.

        The caller passes the job function (imported by name), so `ivr` never imports `workers`.
        """
        from sqlalchemy import select

        from ivr.models import Call, Case, Intake, Transcript

        errors = []
        for intake_id in self.intake_ids(call.call_sid):
            try:
                process_intake(intake_id)
            except Exception as exc:  # shown to the admin; the intake row records it too
                errors.append(f"intake {intake_id}: {type(exc).__name__}: {exc}")
        with self.app.extensions["ivr"].sessions() as session:
            row = session.scalars(select(Call).where(Call.call_sid == call.call_sid)).first()
            if row is None:
                return CaseOutcome(None, None, None, (), (), tuple(errors))
            case = session.scalars(select(Case).where(Case.call_id == row.id)).first()
            intakes = list(session.scalars(select(Intake).where(Intake.call_id == row.id).order_by(Intake.id)))
            texts = [t.text or "" for t in session.scalars(
                select(Transcript).join(Intake).where(Intake.call_id == row.id).order_by(Intake.id))]
        return CaseOutcome(
            case_id=case.id if case else None,
            status=case.status if case else None,
            transcript_status=case.transcript_status if case else None,
            transcripts=tuple(texts),
            intake_statuses=tuple(i.status for i in intakes),
            errors=tuple(errors),
            deleted_at_twilio=tuple(self.media.deleted) if self.media else (),
        )

    def close(self) -> None:
        """Stop the stand-in, drop the scratch queue from Redis, remove the scratch folder."""
        services = self.app.extensions["ivr"]
        services.tracker.close()  # send its last notes now, so the delete below catches them
        try:
            _drop_queue(services.queue)
            # The line's drop-off tracker keeps each call's last node in Redis for a few hours.
            if self._call_sids:
                services.redis.delete(*(f"ivr:call:{sid}" for sid in self._call_sids))
        except RedisError:
            pass  # Redis is down: nothing of ours reached it either
        finally:
            services.close()
            if self.media is not None:
                self.media.close()
            self._remove()

    def _remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _drop_queue(queue: Any) -> None:
    """Remove the scratch queue and any job on it or in its registries (best effort: Redis may be down)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        registries = (queue.scheduled_job_registry, queue.deferred_job_registry, queue.failed_job_registry,
                      queue.finished_job_registry, queue.started_job_registry)
        for registry in registries:
            for job_id in registry.get_job_ids():
                try:
                    Job.fetch(job_id, connection=queue.connection).delete()
                except NoSuchJobError:
                    registry.remove(job_id)
        queue.delete(delete_jobs=True)
    except OSError:
        pass  # nothing reached Redis either, or it is down: nothing to clean
