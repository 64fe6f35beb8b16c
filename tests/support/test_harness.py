"""Proves the Twilio stand-ins (twilio_sim, fake_twilio_api) against a throwaway app and real HTTP."""

from __future__ import annotations

import io
import re
import threading
import wave
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests
from flask import Flask, Response, abort, request
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.serving import make_server

from tests.support.fake_twilio_api import FakeTwilioApi, twilio_client_for
from tests.support.twilio_sim import (
    DEFAULT_ACCOUNT_SID,
    DialResult,
    EmptyRecording,
    FlaskTransport,
    Hangup,
    HttpTransport,
    Press,
    Silence,
    Speak,
    Talk,
    TwilioSimulator,
    make_wav,
)

PUBLIC = "https://ivr.example.test"
TOKEN = "harness-token-0123456789abcdef01"
ACCOUNT = DEFAULT_ACCOUNT_SID
SID_RE = re.compile(r"^RE[0-9a-f]{32}$")

Route = Callable[[], Any]


def twiml(*verbs: str) -> str:
    """A TwiML document."""
    return '<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(verbs) + "</Response>"


def form() -> dict[str, str]:
    """The current request's form."""
    return request.form.to_dict()


def make_app(routes: dict[str, Route]) -> tuple[Flask, list[dict[str, Any]]]:
    """A throwaway app that validates Twilio signatures the way a real one must, and logs hits."""
    app = Flask("harness")
    hits: list[dict[str, Any]] = []
    validator = RequestValidator(TOKEN)

    @app.before_request
    def verify() -> None:
        # The app sees http://localhost or 127.0.0.1; it must rebuild the public URL Twilio signed.
        query = request.query_string.decode()
        url = PUBLIC + request.path + (f"?{query}" if query else "")
        valid = validator.validate(url, request.form, request.headers.get("X-Twilio-Signature", ""))
        hits.append({"path": request.path, "args": request.args.to_dict(), "form": form(), "valid": valid})
        if not valid:
            abort(403)

    @app.post("/<path:subpath>")
    def dispatch(subpath: str) -> Any:
        handler = routes.get("/" + subpath)
        if handler is None:
            abort(404)
        body = handler()
        return body if isinstance(body, tuple) else Response(body, mimetype="text/xml")

    return app, hits


def no_content() -> tuple[str, int]:
    """A 204 for callbacks."""
    return "", 204


CALLBACKS: dict[str, Route] = {"/voice/status": no_content, "/voice/recording-status": no_content}


def simulator(routes: dict[str, Route], **kwargs: Any) -> tuple[TwilioSimulator, list[dict[str, Any]]]:
    """A simulator wired to a throwaway app through Flask's test client."""
    app, hits = make_app({**CALLBACKS, **routes})
    sim = TwilioSimulator(
        FlaskTransport(app.test_client()), auth_token=TOKEN, public_base_url=PUBLIC, **kwargs
    )
    return sim, hits


def paths(hits: list[dict[str, Any]]) -> list[str]:
    """Paths the app received, in order."""
    return [hit["path"] for hit in hits]


def hit(hits: list[dict[str, Any]], path: str) -> dict[str, Any]:
    """The only hit on path."""
    found = [h for h in hits if h["path"] == path]
    assert len(found) == 1, paths(hits)
    return found[0]


# ------------------------------------------------------------------ simulator


def test_incoming_call_is_signed_with_28_kz_fields_and_status_callback() -> None:
    sim, hits = simulator({"/voice/incoming": lambda: twiml('<Say language="kk-KZ">Сәлеметсіз бе</Say>')})
    result = sim.call([], caller_name="АЙГЕРИМ")
    assert result.events == [("say", "Сәлеметсіз бе", "kk-KZ")]
    assert result.said() == ["Сәлеметсіз бе"]
    assert result.ended_by == "no-more-verbs"
    assert paths(hits) == ["/voice/incoming", "/voice/status"]
    assert all(h["valid"] for h in hits)
    first = hits[0]["form"]
    assert len(first) == 28
    assert first["CallStatus"] == "ringing"
    assert first["From"] == first["Caller"] == "+77012345678"
    assert first["To"] == first["Called"] == "+77172141424"
    assert first["FromCountry"] == first["ToCountry"] == "KZ"
    assert first["CallerName"] == "АЙГЕРИМ"
    assert first["Direction"] == "inbound" and first["ApiVersion"] == "2010-04-01"
    assert first["AccountSid"] == ACCOUNT and first["CallSid"] == result.call_sid
    status = hits[1]["form"]
    assert status["CallStatus"] == "completed" and int(status["CallDuration"]) >= 1
    assert status["CallSid"] == result.call_sid


def test_voice_form_has_exactly_28_fields() -> None:
    sim, _ = simulator({})
    fields = sim.voice_form("CA" + "1" * 32, "+77012345678", "+77172141424", None)
    assert len(fields) == 28 and fields["CallStatus"] == "in-progress"


def test_gather_sends_digits_without_finish_key_and_stops_at_num_digits() -> None:
    sim, hits = simulator(
        {
            "/voice/incoming": lambda: twiml(
                '<Gather action="/voice/menu" numDigits="1"><Say>Press one</Say></Gather>'
            ),
            "/voice/menu": lambda: twiml(
                f"<Say>menu {form()['Digits']}</Say>",
                '<Gather action="/voice/pin" finishOnKey="#"><Say>PIN then hash</Say></Gather>',
            ),
            "/voice/pin": lambda: twiml(
                f"<Say>pin {form()['Digits']} {form()['FinishedOnKey']}</Say><Hangup/>"
            ),
        }
    )
    result = sim.call([Press("19"), Press("4321#9")])
    assert result.said() == ["Press one", "menu 1", "PIN then hash", "pin 4321 #"]
    assert hit(hits, "/voice/menu")["form"]["FinishedOnKey"] == ""
    assert hit(hits, "/voice/menu")["form"]["CallStatus"] == "in-progress"
    assert result.ended_by == "hangup-verb"
    assert result.last_gather() == {"action": "/voice/pin", "finishOnKey": "#"}


@pytest.mark.parametrize("answer", [Silence(), Press("#"), Speak("hello")])
def test_no_input_falls_through_to_the_next_verb(answer: Any) -> None:
    sim, hits = simulator(
        {
            "/voice/incoming": lambda: twiml(
                '<Gather action="/voice/menu" numDigits="1"><Say>Press one</Say></Gather>',
                "<Say>We did not hear you</Say><Hangup/>",
            ),
            "/voice/menu": lambda: twiml("<Say>menu</Say>"),
        }
    )
    result = sim.call([answer])
    assert result.said() == ["Press one", "We did not hear you"]
    assert "/voice/menu" not in paths(hits)


def test_action_on_empty_result_posts_without_digits() -> None:
    sim, hits = simulator(
        {
            "/voice/incoming": lambda: twiml('<Gather action="/voice/menu" actionOnEmptyResult="true"/>'),
            "/voice/menu": lambda: twiml(f"<Say>digits present: {'Digits' in form()}</Say>"),
        }
    )
    result = sim.call([Silence()])
    assert result.said() == ["digits present: False"]
    assert hit(hits, "/voice/menu")["valid"]


def test_speech_gather_posts_speech_result_and_confidence() -> None:
    sim, hits = simulator(
        {
            "/voice/incoming": lambda: twiml(
                '<Gather input="dtmf speech" language="ru-RU" hints="оператор" action="/voice/said"/>'
            ),
            "/voice/said": lambda: twiml(f"<Say>{form()['SpeechResult']} {form()['Confidence']}</Say>"),
        }
    )
    result = sim.call([Speak("оператор", 0.87)])
    assert result.said() == ["оператор 0.87"]
    assert "Digits" not in hit(hits, "/voice/said")["form"]


def record_routes(record_attrs: str = "") -> dict[str, Route]:
    """Say, Record (relative action and callback), fallback Say."""
    record = (
        '<Record action="recorded" maxLength="120" recordingStatusCallback="recording-status" '
        f'recordingStatusCallbackEvent="completed" {record_attrs}/>'
    )
    return {
        "/voice/incoming": lambda: twiml(
            "<Say>Leave a message</Say>", record, "<Say>No message recorded</Say>"
        ),
        "/voice/recorded": lambda: twiml("<Say>Thanks</Say><Hangup/>"),
    }


def test_talk_posts_record_action_then_recording_status_callback() -> None:
    sim, hits = simulator(record_routes())
    result = sim.call([Talk(12, "#")])
    assert paths(hits) == ["/voice/incoming", "/voice/recorded", "/voice/recording-status", "/voice/status"]
    assert all(h["valid"] for h in hits)
    action = hit(hits, "/voice/recorded")["form"]
    sid = action["RecordingSid"]
    assert SID_RE.match(sid) and result.recordings == [sid]
    assert action["RecordingUrl"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}"
    assert action["RecordingDuration"] == "12" and action["Digits"] == "#"
    assert action["CallStatus"] == "in-progress" and len(action) == 28 + 4
    callback = hit(hits, "/voice/recording-status")["form"]
    assert callback["RecordingSid"] == sid and callback["RecordingStatus"] == "completed"
    assert callback["RecordingChannels"] == "1" and callback["RecordingSource"] == "RecordVerb"
    assert callback["RecordingDuration"] == "12" and callback["CallSid"] == result.call_sid
    assert parsedate_to_datetime(callback["RecordingStartTime"]).tzinfo is not None
    assert result.said() == ["Leave a message", "Thanks"]


def test_max_length_caps_duration_and_omits_digits() -> None:
    sim, hits = simulator(record_routes())
    sim.call([Talk(500, "#")])
    action = hit(hits, "/voice/recorded")["form"]
    assert action["RecordingDuration"] == "120" and "Digits" not in action


def test_empty_recording_makes_no_action_request_and_runs_next_verb() -> None:
    sim, hits = simulator(record_routes())
    result = sim.call([EmptyRecording()])
    assert paths(hits) == ["/voice/incoming", "/voice/status"]
    assert result.said() == ["Leave a message", "No message recorded"]
    assert result.recordings == []


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("after_action", ["recorded", "recording-status", "status"]),
        ("before_action", ["recording-status", "recorded", "status"]),
        ("twice", ["recorded", "recording-status", "recording-status", "status"]),
        ("after_call", ["recorded", "status", "recording-status"]),
        ("never", ["recorded", "status"]),
    ],
)
def test_recording_callback_modes(mode: str, expected: list[str]) -> None:
    sim, hits = simulator(record_routes(), recording_callbacks=mode)
    sim.call([Talk(5)])
    assert paths(hits) == ["/voice/incoming"] + [f"/voice/{name}" for name in expected]


def test_no_recording_status_callback_attribute_means_no_callback() -> None:
    sim, hits = simulator(
        {
            "/voice/incoming": lambda: twiml('<Record action="/voice/recorded"/>'),
            "/voice/recorded": lambda: twiml("<Hangup/>"),
        }
    )
    sim.call([Talk(5)])
    assert paths(hits) == ["/voice/incoming", "/voice/recorded", "/voice/status"]


@pytest.mark.parametrize("answer", [Hangup(recorded_s=7), Talk(7, "hangup")])
def test_hangup_during_record_posts_action_ignores_twiml_and_still_calls_back(answer: Any) -> None:
    sim, hits = simulator(record_routes())
    result = sim.call([answer])
    assert paths(hits) == ["/voice/incoming", "/voice/recorded", "/voice/recording-status", "/voice/status"]
    action = hit(hits, "/voice/recorded")["form"]
    assert action["Digits"] == "hangup" and action["RecordingDuration"] == "7"
    assert action["CallStatus"] == "completed"
    assert result.said() == ["Leave a message"]  # the action's <Say>Thanks</Say> is never heard
    assert result.ended_by == "caller"
    assert hit(hits, "/voice/status")["form"]["CallStatus"] == "completed"


def test_talk_with_a_key_record_would_not_finish_on_is_a_script_error() -> None:
    sim, _ = simulator(record_routes('finishOnKey="*"'))
    with pytest.raises(AssertionError, match="would not end the recording"):
        sim.call([Talk(5, "#")])


def test_relative_urls_resolve_against_the_requesting_url_and_keep_queries() -> None:
    def page() -> str:
        if "Digits" in form():
            return twiml('<Gather action="next?y=2" numDigits="1"/>')
        return twiml('<Gather numDigits="1"><Play>../audio/menu.mp3</Play></Gather>')  # no action: same URL

    sim, hits = simulator(
        {
            "/voice/incoming": lambda: twiml("<Redirect>sub/page?x=1</Redirect>"),
            "/voice/sub/page": page,
            "/voice/sub/next": lambda: twiml('<Gather action="../top" numDigits="1"/>'),
            "/voice/top": lambda: twiml(f"<Redirect>{PUBLIC}/voice/abs?z=3</Redirect>"),
            "/voice/abs": lambda: twiml("<Hangup/>"),
        }
    )
    result = sim.call([Press("5"), Press("1"), Press("2")])
    assert [(h["path"], h["args"]) for h in hits] == [
        ("/voice/incoming", {}),
        ("/voice/sub/page", {"x": "1"}),
        ("/voice/sub/page", {"x": "1"}),
        ("/voice/sub/next", {"y": "2"}),
        ("/voice/top", {}),
        ("/voice/abs", {"z": "3"}),
        ("/voice/status", {}),
    ]
    assert all(h["valid"] for h in hits)
    assert [h["form"].get("Digits") for h in hits[2:5]] == ["5", "1", "2"]
    assert result.played() == [f"{PUBLIC}/voice/audio/menu.mp3"]
    assert ("redirect", f"{PUBLIC}/voice/sub/page?x=1") in result.events


def test_dial_with_action_posts_dial_status() -> None:
    sim, _ = simulator(
        {
            "/voice/incoming": lambda: twiml(
                '<Dial action="/voice/dial-done" timeout="20"><Number>+77010000000</Number></Dial>',
                "<Say>unreachable</Say>",
            ),
            "/voice/dial-done": lambda: twiml(
                f"<Say>{form()['DialCallStatus']} {form().get('DialCallDuration', '-')}</Say>"
            ),
        }
    )
    assert sim.call([DialResult("completed", 42)]).said() == ["completed 42"]
    result = sim.call([DialResult("no-answer")])
    assert result.said() == ["no-answer -"]
    assert result.events[0] == ("dial", "+77010000000", {"action": "/voice/dial-done", "timeout": "20"})


def test_dial_without_action_continues_with_next_verb() -> None:
    sim, _ = simulator({"/voice/incoming": lambda: twiml("<Dial>+77010000000</Dial><Say>after dial</Say>")})
    result = sim.call([DialResult("busy")])
    assert result.said() == ["after dial"] and result.events[0][1] == "+77010000000"


@pytest.mark.parametrize(("reason", "status"), [("busy", "busy"), ("rejected", "no-answer")])
def test_reject_as_first_verb_leaves_call_unanswered(reason: str, status: str) -> None:
    sim, hits = simulator({"/voice/incoming": lambda: twiml(f'<Reject reason="{reason}"/>')})
    result = sim.call([])
    assert result.ended_by == "reject" and result.call_status == status and result.duration_s == 0
    assert hit(hits, "/voice/status")["form"]["CallStatus"] == status


def test_script_running_out_at_a_gather_means_the_caller_hangs_up() -> None:
    sim, hits = simulator({"/voice/incoming": lambda: twiml('<Gather action="/voice/menu"/><Say>bye</Say>')})
    result = sim.call([])
    assert result.ended_by == "caller" and result.said() == []
    assert paths(hits) == ["/voice/incoming", "/voice/status"]


def test_unused_inputs_are_reported() -> None:
    sim, _ = simulator({"/voice/incoming": lambda: twiml("<Hangup/>")})
    assert sim.call([Press("1")]).unused_inputs == [Press("1")]


def test_script_item_that_does_not_fit_the_verb_raises() -> None:
    # (A Talk at a <Gather> is not a misfit any more: the scripted caller waits silently for the
    # beep while skippable prompts play. A key at a <Record> still is.)
    sim, _ = simulator({"/voice/incoming": lambda: twiml("<Record/>")})
    with pytest.raises(AssertionError, match="waiting at <Record>"):
        sim.call([Press("1")])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda: "<Response><Say>unclosed</Response>", "invalid XML"),
        (lambda: "<Foo/>", "must be <Response>"),
        (lambda: twiml("<Connect/>"), "not a verb"),
        (lambda: ("boom", 500), "HTTP 500"),
        (lambda: twiml('<Gather method="GET"/>'), "only does POST"),
        (lambda: twiml("<Gather><Record/></Gather>"), "13320"),
        (lambda: twiml("<Redirect>/voice/incoming</Redirect>"), "max_requests"),
    ],
)
def test_bad_responses_fail_loudly(body: Route, message: str) -> None:
    sim, _ = simulator({"/voice/incoming": body})
    with pytest.raises(AssertionError, match=message):
        sim.call([], max_requests=10)


def test_official_twiml_library_output_is_understood() -> None:
    def incoming() -> str:
        response = VoiceResponse()
        gather = response.gather(action="/voice/menu", num_digits=1, input="dtmf", timeout=3)
        gather.say("Нажмите один", language="ru-RU", voice="Polly.Tatyana")
        response.say("Bye", loop=2)
        return str(response)

    sim, _ = simulator({"/voice/incoming": incoming})
    result = sim.call([Silence()])
    assert result.said() == ["Нажмите один", "Bye", "Bye"]
    assert result.says[0] == {
        "text": "Нажмите один",
        "voice": "Polly.Tatyana",
        "language": "ru-RU",
        "loop": 1,
    }
    assert result.last_gather() == {
        "action": "/voice/menu",
        "input": "dtmf",
        "numDigits": "1",
        "timeout": "3",
    }


def test_forged_tampered_and_unsigned_requests_are_rejected_by_a_validating_app() -> None:
    sim, _ = simulator({"/voice/incoming": lambda: twiml("<Hangup/>")})
    body = sim.voice_form("CA" + "2" * 32, "+77012345678", "+77172141424", None)
    assert sim.post("/voice/incoming", body)[0] == 200
    assert sim.post("/voice/incoming", body, sign=False)[0] == 403
    assert sim.post("/voice/incoming", body, signature="bm90IGEgc2lnbmF0dXJl")[0] == 403
    signed_for_other_body = sim.sign(f"{PUBLIC}/voice/incoming", {**body, "From": "+77000000000"})
    assert sim.post("/voice/incoming", body, signature=signed_for_other_body)[0] == 403
    assert sim.post(f"{PUBLIC}/voice/incoming?a=1", body)[0] == 200


@pytest.fixture
def live_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The throwaway app on a real loopback port."""
    app, hits = make_app(
        {
            **CALLBACKS,
            "/voice/incoming": lambda: twiml('<Gather action="menu?lang=kk" numDigits="1"/>'),
            "/voice/menu": lambda: twiml(f"<Say>{request.args['lang']} {form()['Digits']}</Say>"),
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_http_transport_signs_for_the_public_url_while_talking_to_loopback(
    live_server: tuple[str, list[dict[str, Any]]],
) -> None:
    base, hits = live_server
    sim = TwilioSimulator(HttpTransport(base), auth_token=TOKEN, public_base_url=PUBLIC)
    result = sim.call([Press("3")])
    assert result.said() == ["kk 3"]
    assert paths(hits) == ["/voice/incoming", "/voice/menu", "/voice/status"]
    assert all(h["valid"] for h in hits)
    assert result.requests[1][0] == f"{PUBLIC}/voice/menu?lang=kk"


# ------------------------------------------------------------------ fake Twilio REST API


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    """A running FakeTwilioApi with a short stall."""
    with FakeTwilioApi(stall_s=1.0) as api:
        yield api


def media_url(fake: FakeTwilioApi, sid: str, ext: str = ".wav") -> str:
    """Where a recording's audio is served."""
    return f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Recordings/{sid}{ext}"


AUDIO = make_wav(2)
RE1 = "RE" + "a" * 32


def test_media_needs_basic_auth_and_serves_wav_and_mp3(fake: FakeTwilioApi) -> None:
    fake.add_recording(RE1, AUDIO, call_sid="CA" + "1" * 32, duration_s=2)
    auth = (fake.account_sid, fake.auth_token)
    anonymous = requests.get(media_url(fake, RE1), timeout=5)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == 20003
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(media_url(fake, RE1), auth=(fake.account_sid, "wrong"), timeout=5).status_code == 401
    wav = requests.get(media_url(fake, RE1), auth=auth, timeout=5)
    assert wav.status_code == 200 and wav.content == AUDIO and wav.headers["Content-Type"] == "audio/x-wav"
    mp3 = requests.get(media_url(fake, RE1, ".mp3"), auth=auth, timeout=5)
    assert mp3.content == AUDIO and mp3.headers["Content-Type"] == "audio/mpeg"
    assert requests.get(media_url(fake, RE1, ""), auth=auth, timeout=5).content == AUDIO
    assert [r.auth_ok for r in fake.requests] == [False, False, True, True, True]


def test_fail_next_makes_media_not_ready_then_ready(fake: FakeTwilioApi) -> None:
    fake.add_recording(RE1, AUDIO, call_sid="CA" + "1" * 32, duration_s=2)
    fake.fail_next(RE1, 2)
    fake.fail_next(RE1, 1, 500)
    auth = (fake.account_sid, fake.auth_token)
    statuses = [requests.get(media_url(fake, RE1), auth=auth, timeout=5).status_code for _ in range(4)]
    assert statuses == [404, 404, 500, 200]
    assert len(fake.requests_matching("GET", f"/Recordings/{RE1}")) == 4
    assert requests.get(media_url(fake, "RE" + "b" * 32), auth=auth, timeout=5).status_code == 404


def test_fail_next_timeout_stalls_longer_than_the_client_waits(fake: FakeTwilioApi) -> None:
    fake.add_recording(RE1, AUDIO, call_sid="CA" + "1" * 32, duration_s=2)
    fake.fail_next(RE1, 1, "timeout", stall_s=2.0)
    auth = (fake.account_sid, fake.auth_token)
    with pytest.raises(requests.Timeout):
        requests.get(media_url(fake, RE1), auth=auth, timeout=0.3)
    assert fake.requests[-1].stalled
    assert requests.get(media_url(fake, RE1), auth=auth, timeout=5).content == AUDIO


def test_delete_recording_then_it_is_gone(fake: FakeTwilioApi) -> None:
    fake.add_recording(RE1, AUDIO, call_sid="CA" + "1" * 32, duration_s=2)
    auth = (fake.account_sid, fake.auth_token)
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Recordings/{RE1}.json"
    assert requests.delete(url, auth=auth, timeout=5).status_code == 204
    assert not fake.has_recording(RE1)
    assert requests.get(media_url(fake, RE1), auth=auth, timeout=5).status_code == 404
    assert requests.delete(url, auth=auth, timeout=5).json()["code"] == 20404
    assert [r.status for r in fake.requests_matching("DELETE")] == [204, 404]


def add_five(fake: FakeTwilioApi) -> list[str]:
    """Five recordings on consecutive days (two calls); SIDs newest first."""
    start = datetime(2024, 3, 1, 12, tzinfo=UTC)
    sids = []
    for day in range(5):
        sid = f"RE{day:032x}"
        call_sid = "CA" + ("1" if day % 2 else "2") * 32
        fake.add_recording(
            sid, AUDIO, call_sid=call_sid, duration_s=day + 1, date_created=start + timedelta(days=day)
        )
        sids.append(sid)
    return sids[::-1]


def test_list_recordings_pages_and_filters_over_raw_http(fake: FakeTwilioApi) -> None:
    newest_first = add_five(fake)
    auth = (fake.account_sid, fake.auth_token)
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Recordings.json?PageSize=2"
    seen, pages = [], 0
    while url:
        page = requests.get(url, auth=auth, timeout=5).json()
        assert page["page_size"] == 2 and page["page"] == pages
        seen += [r["sid"] for r in page["recordings"]]
        pages += 1
        url = fake.base_url + page["next_page_uri"] if page["next_page_uri"] else ""
    assert seen == newest_first and pages == 3
    base = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Recordings.json"
    by_call = requests.get(base, params={"CallSid": "CA" + "1" * 32}, auth=auth, timeout=5).json()
    assert [r["sid"] for r in by_call["recordings"]] == [newest_first[1], newest_first[3]]
    after = requests.get(f"{base}?DateCreated>=2024-03-04", auth=auth, timeout=5).json()
    assert [r["sid"] for r in after["recordings"]] == newest_first[:2]
    before = requests.get(base, params={"DateCreated<": "2024-03-02T12:00:00Z"}, auth=auth, timeout=5).json()
    assert [r["sid"] for r in before["recordings"]] == newest_first[3:]


def test_official_twilio_client_works_against_the_fake(fake: FakeTwilioApi) -> None:
    newest_first = add_five(fake)
    client = twilio_client_for(fake)
    assert [r.sid for r in client.recordings.list(page_size=2)] == newest_first
    after = client.recordings.list(date_created_after=datetime(2024, 3, 4, tzinfo=UTC))
    assert [r.sid for r in after] == newest_first[:2]
    fetched = client.recordings(newest_first[0]).fetch()
    assert fetched.duration == "5" and fetched.media_url.startswith(fake.base_url)
    assert client.recordings(newest_first[0]).delete() is True
    assert len(fake.requests_matching("DELETE", f"/Recordings/{newest_first[0]}.json")) == 1

    call_sid = "CA" + "3" * 32
    fake.add_call(call_sid, "+77012345678", "+77172141424")
    assert client.calls(call_sid).fetch().status == "completed"
    assert client.calls(call_sid).delete() is True and fake.call(call_sid) is None

    number_sid = "PN" + "4" * 32
    fake.add_number(number_sid, "+77172141424")
    client.incoming_phone_numbers(number_sid).update(
        voice_url=f"{PUBLIC}/voice/incoming",
        voice_fallback_url=f"{PUBLIC}/voice/fallback",
        status_callback=f"{PUBLIC}/voice/status",
    )
    stored = fake.number(number_sid)
    assert stored is not None and stored["voice_url"] == f"{PUBLIC}/voice/incoming"
    assert stored["status_callback"] == f"{PUBLIC}/voice/status"
    listed = client.incoming_phone_numbers.list(phone_number="+77172141424")
    assert [n.sid for n in listed] == [number_sid] and listed[0].voice_fallback_url.endswith("/fallback")

    assert all(r.auth_ok for r in fake.requests)
    bad = Client(fake.account_sid, "wrong-token")
    bad.api.base_url = fake.base_url
    with pytest.raises(TwilioRestException) as caught:
        bad.recordings(newest_first[1]).fetch()
    assert caught.value.status == 401 and caught.value.code == 20003
    with pytest.raises(TwilioException, match="Unable to fetch page"):  # how the client reports a bad list
        bad.recordings.list()


def test_request_log_is_thread_safe(fake: FakeTwilioApi) -> None:
    fake.add_recording(RE1, AUDIO, call_sid="CA" + "1" * 32, duration_s=2)
    auth = (fake.account_sid, fake.auth_token)

    def fetch() -> None:
        with requests.Session() as session:
            for _ in range(10):
                assert session.get(media_url(fake, RE1), auth=auth, timeout=5).status_code == 200

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake.requests) == 80


def test_simulator_publishes_recordings_and_calls_to_the_fake(fake: FakeTwilioApi) -> None:
    sim, hits = simulator(record_routes(), fake_api=fake, api_base_url=fake.base_url)
    result = sim.call([Talk(3)])
    sid = result.recordings[0]
    recording_url = hit(hits, "/voice/recorded")["form"]["RecordingUrl"]
    assert recording_url == f"{fake.base_url}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}"
    audio = requests.get(recording_url + ".wav", auth=(fake.account_sid, fake.auth_token), timeout=5).content
    with wave.open(io.BytesIO(audio)) as recording:
        assert recording.getframerate() == 8000 and recording.getnframes() == 3 * 8000
    call = fake.call(result.call_sid)
    assert call is not None and call["status"] == "completed"
