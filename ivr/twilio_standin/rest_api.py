"""A local stand-in for Twilio's 2010-04-01 REST API and recording media, served over real HTTP.

Used by the tests, by `ivr simulate --worker` (in process) and by `ivr up --demo` (its own process,
`python -m ivr.twilio_standin.rest_api`), where `ivr simulate --into` publishes each recording with
``POST /standin/Recordings/{RE}`` (not a Twilio route) so the running line's workers can fetch it.

Example::

    with FakeTwilioApi() as fake:
        fake.add_recording("RE" + "0" * 32, make_wav(3), call_sid=call_sid, duration_s=3)
        client = twilio_client_for(fake)
        client.recordings("RE" + "0" * 32).delete()
        assert fake.requests_matching("DELETE", "/Recordings/")

Pointing the official client at it: ``twilio.rest.Client`` builds every 2010-04-01 URL from
``client.api.base_url`` (``twilio.rest.api.ApiBase`` is a ``twilio.base.domain.Domain`` whose
``absolute_url()`` joins ``base_url`` and the resource path, and paging follows ``next_page_uri``
through the same domain). So, with the default ``http_client``::

    client = Client(fake.account_sid, fake.auth_token)
    client.api.base_url = fake.base_url      # "http://127.0.0.1:PORT"

This covers client.calls / recordings / incoming_phone_numbers (all under ``client.api``). Other
domains (voice., lookups., ...) have their own ``base_url`` and are not served here. Leave
``edge``/``region`` unset (and TWILIO_EDGE/TWILIO_REGION out of the environment): with them the
client rewrites the host of every URL. Recording media is fetched by URL, not by the client:
``RecordingUrl`` + ``.wav``/``.mp3`` under ``fake.base_url`` with basic auth.

Routes (basic auth AccountSid:AuthToken, else 401 / Twilio error 20003):
  GET    /2010-04-01/Accounts/{AC}/Recordings/{RE}[.wav|.mp3]   media (404 until added, fail_next)
  GET    /2010-04-01/Accounts/{AC}/Recordings/{RE}.json         instance
  DELETE /2010-04-01/Accounts/{AC}/Recordings/{RE}.json         204, or 404 if unknown
  GET    /2010-04-01/Accounts/{AC}/Recordings.json              paged list; filters CallSid,
                                                                DateCreated, DateCreated<, DateCreated>
  GET    /2010-04-01/Accounts/{AC}/Calls/{CA}.json              instance
  POST   /2010-04-01/Accounts/{AC}/Calls/{CA}.json              update (Status, Url, Twiml)
  DELETE /2010-04-01/Accounts/{AC}/Calls/{CA}.json              204, or 404 if unknown
  GET    /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers.json    paged list (PhoneNumber filter)
  GET    /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers/{PN}.json   instance
  POST   /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers/{PN}.json   update (VoiceUrl, StatusCallback, ...)
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from twilio.rest import Client

from ivr.twilio_standin.player import DEFAULT_ACCOUNT_SID

DEFAULT_AUTH_TOKEN = "f4k3a0b1c2d3e4f5a6b7c8d9e0f1a2b3"
UPLOAD_PREFIX = "/standin/"
_API = "2010-04-01"
_ACCOUNT = r"^/2010-04-01/Accounts/(?P<account>AC[0-9A-Za-z]+)"
_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(_ACCOUNT + r"/Recordings\.json$"), "recordings"),
    (re.compile(_ACCOUNT + r"/Recordings/(?P<sid>RE[0-9A-Za-z]+)\.json$"), "recording"),
    (re.compile(_ACCOUNT + r"/Recordings/(?P<sid>RE[0-9A-Za-z]+)(?P<ext>\.wav|\.mp3)?$"), "media"),
    (re.compile(_ACCOUNT + r"/Calls/(?P<sid>CA[0-9A-Za-z]+)\.json$"), "call"),
    (re.compile(_ACCOUNT + r"/IncomingPhoneNumbers\.json$"), "numbers"),
    (re.compile(_ACCOUNT + r"/IncomingPhoneNumbers/(?P<sid>PN[0-9A-Za-z]+)\.json$"), "number"),
]


def twilio_client_for(fake: FakeTwilioApi) -> Client:
    """An official twilio Client (default http_client) whose REST calls go to the fake."""
    client = Client(fake.account_sid, fake.auth_token)
    client.api.base_url = fake.base_url
    return client


def _rfc2822(moment: datetime) -> str:
    """Twilio's JSON date format, e.g. 'Tue, 10 Sep 2024 08:01:02 +0000'."""
    return format_datetime(moment.astimezone(UTC))


def _snake(name: str) -> str:
    """VoiceFallbackUrl -> voice_fallback_url, as Twilio's JSON names its fields."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _parse_date(value: str) -> datetime:
    """Parse a DateCreated filter: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)."""
    for pattern in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(value)


@dataclass(frozen=True)
class ApiRequest:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    auth_ok: bool
    time: float
    status: int
    stalled: bool = False


@dataclass
class _Recording:
    """A stored recording."""

    sid: str
    audio: bytes
    call_sid: str
    duration_s: int
    content_type: str
    date_created: datetime


@dataclass
class _Reply:
    """What to answer."""

    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stall_s: float = 0.0


def _json(status: int, payload: Any) -> _Reply:
    """A JSON reply."""
    return _Reply(status, json.dumps(payload).encode())


def _error(status: int, code: int, message: str) -> _Reply:
    """Twilio's REST error body."""
    return _json(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the owning FakeTwilioApi."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeTwilio/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """GET."""
        self.server.fake._handle(self, "GET")  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        """POST."""
        self.server.fake._handle(self, "POST")  # type: ignore[attr-defined]

    def do_DELETE(self) -> None:
        """DELETE."""
        self.server.fake._handle(self, "DELETE")  # type: ignore[attr-defined]

    def do_PUT(self) -> None:
        """PUT (not part of Twilio's API: 405)."""
        self.server.fake._handle(self, "PUT")  # type: ignore[attr-defined]


class FakeTwilioApi:
    """Twilio's REST API for recordings, calls and numbers, on 127.0.0.1 with a free port."""

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        stall_s: float = 5.0,
        media_requires_auth: bool = True,
    ) -> None:
        """Configure; stall_s is how long a "timeout" failure holds the response."""
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.stall_s = stall_s
        # Twilio's "Enforce HTTP Auth on Media URLs" setting; on by default for new accounts.
        self.media_requires_auth = media_requires_auth
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._recordings: dict[str, _Recording] = {}
        self._failures: dict[str, deque[tuple[int | str, float]]] = {}
        self._calls: dict[str, dict[str, Any]] = {}
        self._numbers: dict[str, dict[str, Any]] = {}
        self._requests: list[ApiRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeTwilioApi:
        """Start serving in a background thread (port 0: a free one)."""
        server = ThreadingHTTPServer((host, port), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._stop.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._stop.set()  # wakes stalled handlers so shutdown is prompt
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeTwilioApi:
        """Start on entering the with block."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop on leaving the with block."""
        self.stop()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT (the server must be started)."""
        if self._server is None:
            raise RuntimeError("FakeTwilioApi is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- state set-up and inspection

    def add_recording(
        self,
        sid: str,
        audio: bytes,
        *,
        call_sid: str,
        duration_s: int,
        content_type: str = "audio/x-wav",
        date_created: datetime | None = None,
    ) -> None:
        """Make a recording's media and metadata available."""
        created = date_created or datetime.now(UTC)
        with self._lock:
            self._recordings[sid] = _Recording(sid, audio, call_sid, duration_s, content_type, created)

    def fail_next(self, sid: str, n: int, status: int | str = 404, *, stall_s: float | None = None) -> None:
        """Answer the next n media GETs for sid with status; "timeout" holds them stall_s, then serves."""
        with self._lock:
            self._failures.setdefault(sid, deque()).extend([(status, stall_s or self.stall_s)] * n)

    def add_call(self, sid: str, from_: str, to: str, status: str = "completed") -> None:
        """Create or update a call resource."""
        now = _rfc2822(datetime.now(UTC))
        with self._lock:
            call = self._calls.setdefault(sid, {"sid": sid, "date_created": now, "updates": []})
            call.update({"from": from_, "to": to, "status": status, "date_updated": now})

    def add_number(self, sid: str, phone_number: str, **fields: Any) -> None:
        """Create an incoming phone number resource (fields in snake_case)."""
        now = _rfc2822(datetime.now(UTC))
        number: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": _API,
            "sid": sid,
            "phone_number": phone_number,
            "friendly_name": phone_number,
            "voice_url": "",
            "voice_method": "POST",
            "voice_fallback_url": "",
            "voice_fallback_method": "POST",
            "status_callback": "",
            "status_callback_method": "POST",
            "voice_caller_id_lookup": False,
            "voice_application_sid": None,
            "sms_url": "",
            "sms_method": "POST",
            "capabilities": {"voice": True, "sms": False, "mms": False, "fax": False},
            "date_created": now,
            "date_updated": now,
            "uri": f"/{_API}/Accounts/{self.account_sid}/IncomingPhoneNumbers/{sid}.json",
        }
        number.update(fields)
        with self._lock:
            self._numbers[sid] = number

    def deleted(self) -> list[str]:
        """SIDs of the recordings and calls deleted through the API, in order."""
        return [r.path.rsplit("/", 1)[-1].removesuffix(".json") for r in self.requests_matching("DELETE")
                if r.status == 204]

    def recording_sids(self) -> list[str]:
        """SIDs of recordings still stored."""
        with self._lock:
            return list(self._recordings)

    def has_recording(self, sid: str) -> bool:
        """Whether sid is stored (not deleted)."""
        with self._lock:
            return sid in self._recordings

    def call(self, sid: str) -> dict[str, Any] | None:
        """A call resource's fields, or None if unknown/deleted."""
        with self._lock:
            found = self._calls.get(sid)
            return json.loads(json.dumps(found)) if found else None

    def number(self, sid: str) -> dict[str, Any] | None:
        """A phone number resource's fields, or None."""
        with self._lock:
            found = self._numbers.get(sid)
            return json.loads(json.dumps(found)) if found else None

    @property
    def requests(self) -> list[ApiRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_matching(self, method: str | None = None, path_contains: str = "") -> list[ApiRequest]:
        """Requests with this method (any if None) whose path contains path_contains."""
        return [
            r for r in self.requests if (method is None or r.method == method) and path_contains in r.path
        ]

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._lock:
            self._requests.clear()

    # -- HTTP

    def _auth_ok(self, header: str | None) -> bool:
        """Basic auth with AccountSid:AuthToken."""
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.account_sid and password == self.auth_token

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Route, log and answer one request."""
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        upload = parts.path.startswith(UPLOAD_PREFIX)  # raw audio, not a form
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) if body and not upload else {}
        query = parse_qs(parts.query, keep_blank_values=True)
        auth_ok = self._auth_ok(handler.headers.get("Authorization"))
        try:
            if upload:
                reply = self._on_upload(method, parts.path, query, body, auth_ok)
            else:
                reply = self._route(method, parts.path, query, form, auth_ok)
        except Exception as error:  # a fake bug must show up as a 500, not a hung client
            reply = _error(500, 20500, f"fake Twilio API error: {error!r}")
        with self._lock:
            self._requests.append(
                ApiRequest(
                    method, parts.path, query, form, auth_ok, time.time(), reply.status, reply.stall_s > 0
                )
            )
        if reply.stall_s and self._stop.wait(reply.stall_s):
            return
        try:
            handler.send_response(reply.status)
            if reply.content_type and reply.status != 204:
                handler.send_header("Content-Type", reply.content_type)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            if reply.body:
                handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired during a stall)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], form: dict[str, list[str]], auth_ok: bool
    ) -> _Reply:
        """Dispatch to a resource handler."""
        for pattern, name in _ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            if not auth_ok and (name != "media" or self.media_requires_auth):
                reply = _error(401, 20003, "Authenticate")
                reply.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
                return reply
            if auth_ok and match["account"] != self.account_sid:
                return _error(404, 20404, f"The requested resource {path} was not found")
            resource: _Reply = getattr(self, f"_on_{name}")(method, path, match, query, form)
            return resource
        return _error(404, 20404, f"The requested resource {path} was not found")

    def _on_upload(self, method: str, path: str, query: dict[str, list[str]], body: bytes, auth_ok: bool) -> _Reply:
        """`POST /standin/Recordings/{RE}?CallSid=&Duration=`: a simulated caller's recording, published."""
        if not auth_ok:
            return _error(401, 20003, "Authenticate")
        match = re.fullmatch(UPLOAD_PREFIX + r"Recordings/(?P<sid>RE[0-9A-Za-z]+)", path)
        if match is None:
            return self._not_found(path)
        if method != "POST" or not body:
            return self._not_allowed(method)
        try:
            duration = int(query.get("Duration", ["0"])[-1])
        except ValueError:
            return _error(400, 20001, "Duration must be a whole number of seconds")
        call_sid = query.get("CallSid", [""])[-1]
        self.add_recording(match["sid"], body, call_sid=call_sid, duration_s=duration)
        self.add_call(call_sid, query.get("From", [""])[-1], query.get("To", [""])[-1])
        return _json(201, {"sid": match["sid"]})

    # -- resources

    def _not_found(self, path: str) -> _Reply:
        """Twilio's 404."""
        return _error(404, 20404, f"The requested resource {path} was not found")

    def _not_allowed(self, method: str) -> _Reply:
        """Twilio's 405."""
        return _error(405, 20004, f"Method {method} not allowed")

    def _recording_json(self, recording: _Recording) -> dict[str, Any]:
        """A recording in Twilio's JSON shape (media_url points at this fake)."""
        prefix = f"/{_API}/Accounts/{self.account_sid}/Recordings/{recording.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": _API,
            "call_sid": recording.call_sid,
            "conference_sid": None,
            "date_created": _rfc2822(recording.date_created),
            "date_updated": _rfc2822(recording.date_created),
            "start_time": _rfc2822(recording.date_created - timedelta(seconds=recording.duration_s)),
            "duration": str(recording.duration_s),
            "sid": recording.sid,
            "price": None,
            "price_unit": "USD",
            "status": "completed",
            "channels": 1,
            "source": "RecordVerb",
            "error_code": None,
            "uri": f"{prefix}.json",
            "encryption_details": None,
            "subresource_uris": {
                "add_on_results": f"{prefix}/AddOnResults.json",
                "transcriptions": f"{prefix}/Transcriptions.json",
            },
            "media_url": f"{self.base_url}{prefix}",
        }

    def _on_media(self, method: str, path: str, match: re.Match[str], query: Any, form: Any) -> _Reply:
        """Recording audio; .mp3 serves the same bytes."""
        if method != "GET":
            return self._not_allowed(method)
        sid = match["sid"]
        with self._lock:
            pending = self._failures.get(sid)
            failure, stall = pending.popleft() if pending else (None, 0.0)
            recording = self._recordings.get(sid)
        if failure is not None and failure != "timeout":
            return _error(int(failure), 20000 + int(failure), f"Simulated failure for {path}")
        stall = stall if failure == "timeout" else 0.0
        if recording is None:
            return _Reply(404, self._not_found(path).body, stall_s=stall)
        content_type = "audio/mpeg" if match["ext"] == ".mp3" else recording.content_type
        return _Reply(200, recording.audio, content_type, stall_s=stall)

    def _on_recording(self, method: str, path: str, match: re.Match[str], query: Any, form: Any) -> _Reply:
        """Fetch or delete one recording."""
        with self._lock:
            recording = self._recordings.get(match["sid"])
            if recording is not None and method == "DELETE":
                del self._recordings[match["sid"]]
        if recording is None:
            return self._not_found(path)
        if method == "DELETE":
            return _Reply(204, content_type=None)
        if method == "GET":
            return _json(200, self._recording_json(recording))
        return self._not_allowed(method)

    def _on_recordings(
        self, method: str, path: str, match: re.Match[str], query: dict[str, list[str]], form: Any
    ) -> _Reply:
        """List recordings, newest first, with Twilio's filters and paging."""
        if method != "GET":
            return self._not_allowed(method)
        with self._lock:
            items = sorted(self._recordings.values(), key=lambda r: (r.date_created, r.sid), reverse=True)
        try:
            for key, values in query.items():
                value = values[-1]
                if key == "CallSid":
                    items = [r for r in items if r.call_sid == value]
                # Twilio's DateCreated>=X / DateCreated<=X arrive as keys "DateCreated>" / "DateCreated<".
                elif key == "DateCreated>":
                    items = [r for r in items if r.date_created >= _parse_date(value)]
                elif key == "DateCreated<":
                    items = [r for r in items if r.date_created <= _parse_date(value)]
                elif key == "DateCreated":
                    day = _parse_date(value).date()
                    items = [r for r in items if r.date_created.astimezone(UTC).date() == day]
        except ValueError as error:
            return _error(400, 20001, f"Invalid date: {error}")
        return self._page("recordings", [self._recording_json(r) for r in items], path, query)

    def _page(self, key: str, items: list[dict[str, Any]], path: str, query: dict[str, list[str]]) -> _Reply:
        """Twilio's 2010-04-01 paged list shape."""
        try:
            size = min(max(int(query.get("PageSize", ["50"])[-1]), 1), 1000)
            page = max(int(query.get("Page", ["0"])[-1]), 0)
        except ValueError:
            return _error(400, 20001, "Invalid paging parameter")
        filters = [
            (k, v)
            for k, values in query.items()
            if k not in ("Page", "PageSize", "PageToken")
            for v in values
        ]

        def uri(number: int) -> str:
            token = (
                [("PageToken", "PA" + items[number * size - 1]["sid"])]
                if 0 < number * size <= len(items)
                else []
            )
            return f"{path}?{urlencode([*filters, ('PageSize', size), ('Page', number), *token])}"

        start = page * size
        chunk = items[start : start + size]
        return _json(
            200,
            {
                key: chunk,
                "first_page_uri": uri(0),
                "next_page_uri": uri(page + 1) if start + size < len(items) else None,
                "previous_page_uri": uri(page - 1) if page > 0 else None,
                "page": page,
                "page_size": size,
                "start": start,
                "end": start + max(len(chunk) - 1, 0),
                "uri": uri(page),
            },
        )

    def _call_json(self, call: dict[str, Any]) -> dict[str, Any]:
        """A call in Twilio's JSON shape."""
        return {
            "account_sid": self.account_sid,
            "api_version": _API,
            "sid": call["sid"],
            "from": call["from"],
            "to": call["to"],
            "status": call["status"],
            "direction": "inbound",
            "date_created": call["date_created"],
            "date_updated": call["date_updated"],
            "parent_call_sid": None,
            "price": None,
            "price_unit": "USD",
            "uri": f"/{_API}/Accounts/{self.account_sid}/Calls/{call['sid']}.json",
        }

    def _on_call(
        self, method: str, path: str, match: re.Match[str], query: Any, form: dict[str, list[str]]
    ) -> _Reply:
        """Fetch, update or delete one call."""
        sid = match["sid"]
        with self._lock:
            call = self._calls.get(sid)
            if call is not None and method == "DELETE":
                del self._calls[sid]
            if call is not None and method == "POST":
                update = {k: v[-1] for k, v in form.items()}
                call["updates"].append(update)
                if "Status" in update:
                    call["status"] = update["Status"]
            snapshot = dict(call) if call else None
        if snapshot is None:
            return self._not_found(path)
        if method == "DELETE":
            return _Reply(204, content_type=None)
        if method in ("GET", "POST"):
            return _json(200, self._call_json(snapshot))
        return self._not_allowed(method)

    def _on_numbers(
        self, method: str, path: str, match: re.Match[str], query: dict[str, list[str]], form: Any
    ) -> _Reply:
        """List incoming phone numbers (PhoneNumber / FriendlyName filters)."""
        if method != "GET":
            return self._not_allowed(method)
        with self._lock:
            items = [dict(n) for n in self._numbers.values()]
        if "PhoneNumber" in query:
            items = [n for n in items if n["phone_number"] == query["PhoneNumber"][-1]]
        if "FriendlyName" in query:
            items = [n for n in items if n["friendly_name"] == query["FriendlyName"][-1]]
        return self._page("incoming_phone_numbers", items, path, query)

    def _on_number(
        self, method: str, path: str, match: re.Match[str], query: Any, form: dict[str, list[str]]
    ) -> _Reply:
        """Fetch or update one incoming phone number."""
        sid = match["sid"]
        with self._lock:
            number = self._numbers.get(sid)
            if number is not None and method == "POST":
                for name, values in form.items():
                    value: Any = values[-1]
                    if name == "VoiceCallerIdLookup":
                        value = value.lower() == "true"
                    number[_snake(name)] = value
                number["date_updated"] = _rfc2822(datetime.now(UTC))
            snapshot = dict(number) if number else None
        if snapshot is None:
            return self._not_found(path)
        if method in ("GET", "POST"):
            return _json(200, snapshot)
        return self._not_allowed(method)


class RemoteStandIn:
    """A stand-in running in another process (`ivr up --demo`), fed over HTTP: `TwilioSimulator(fake_api=...)`."""

    def __init__(self, base_url: str, account_sid: str, auth_token: str, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False  # loopback: never through a proxy from the environment
        self.session.auth = (account_sid, auth_token)
        self.timeout_s = timeout_s
        self._calls: dict[str, tuple[str, str]] = {}

    def add_call(self, sid: str, from_: str, to: str, status: str = "completed") -> None:
        """Remember the call's numbers for its recordings (the stand-in stores the call with them)."""
        self._calls[sid] = (from_, to)

    def add_recording(self, sid: str, audio: bytes, *, call_sid: str, duration_s: int) -> None:
        """Publish a recording before the app is told about it, as Twilio does."""
        from_, to = self._calls.get(call_sid, ("", ""))
        response = self.session.post(
            f"{self.base_url}{UPLOAD_PREFIX}Recordings/{sid}",
            params={"CallSid": call_sid, "Duration": str(duration_s), "From": from_, "To": to},
            data=audio, headers={"Content-Type": "audio/x-wav"}, timeout=self.timeout_s,
        )  # fmt: skip
        if response.status_code != 201:
            raise RuntimeError(f"the Twilio stand-in at {self.base_url} refused the recording "
                               f"(HTTP {response.status_code}): is `ivr up --demo` running with the same auth token?")


def main(argv: list[str] | None = None) -> int:
    """`python -m ivr.twilio_standin.rest_api --port N`: serve with the line's own account SID and token."""
    import argparse
    import signal

    from ivr.logging import configure_logging, get_logger
    from ivr.settings import load_settings

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    settings = load_settings()
    fake = FakeTwilioApi(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(),
                         media_requires_auth=True)
    configure_logging(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    fake.start(args.host, args.port)
    get_logger("ivr.twilio_standin").info("twilio_standin.listening", url=fake.base_url,
                                          note="a stand-in for Twilio's recordings API: demo calls only")
    stop.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
