"""An operator records a question in Chromium (a fake microphone), hears it back, sends it; the reporter
calls back, and the line plays that very recording after the PIN."""

from __future__ import annotations

import io
import math
import re
import struct
import wave
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from ivr.models import ThreadMessage
from ivr.storage import make_recording_store
from tests.conftest import AUTH_TOKEN
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.operator.console import PASSWORD, Console
from tests.support.twilio_sim import Hangup, HttpTransport, Input, Press, Silence, TwilioSimulator
from tests.voice.test_followup import msg, report

pytestmark = [pytest.mark.browser]


def _microphone(path: Path) -> Path:
    """What the fake microphone hears: a 440 Hz tone that rises and falls, 48 kHz mono."""
    rate = 48000
    frames = b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * 440 * i / rate)
                                            * (0.5 + 0.5 * math.sin(2 * math.pi * i / rate))))
                      for i in range(rate * 4))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


class FetchesPlays:
    """A caller whose phone fetches each message's <Play> URL as Twilio does, while the call lasts."""

    def __init__(self, twilio: TwilioSimulator, keys: list[Input]) -> None:
        self.twilio, self.keys = twilio, list(keys)
        self.fetched: dict[str, requests.Response] = {}

    def answer(self, verb: str, attrs: dict[str, str]) -> Input:
        result = self.twilio.last_result
        assert result is not None
        for url in result.played():
            if "/voice/thread-audio/" in url and url not in self.fetched:
                self.fetched[url] = requests.get(url, timeout=10)
        if verb == "Gather" and "e=heard" in attrs.get("action", "") and self.keys:
            return Silence()  # listens to the message to its end
        return self.keys.pop(0) if self.keys else Hangup()


@pytest.fixture
def microphone_browser(tmp_path: Path, playwright: Any) -> Any:
    """Chromium with a fake microphone playing a known WAV, and permission to use it (the session's
    Playwright: a second sync instance in this thread would refuse to start)."""
    wav = _microphone(tmp_path / "microphone.wav")
    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}"]
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
    yield launched
    launched.close()


def test_operator_records_a_question_and_the_reporter_hears_it(microphone_browser: Any, live_server: Any,
                                                               artifacts: Path) -> None:
    app, base = live_server()
    twilio = TwilioSimulator(HttpTransport(base), auth_token=AUTH_TOKEN, public_base_url=base)
    reference, pin = report(app, twilio)
    console = Console(app)
    console.add_user("aigerim", regions=["02"])
    with app.extensions["ivr"].sessions() as session:
        from ivr.models import Case

        case = session.scalars(select(Case).where(Case.reference == reference)).one()
        case_id, call_id = case.id, case.call_id

    context = microphone_browser.new_context(locale="ru-RU")
    context.grant_permissions(["microphone"], origin=base)
    page = context.new_page()
    page.goto(f"{base}/operator/login")
    page.fill("input[name=username]", "aigerim")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/operator/"))
    page.goto(f"{base}/operator/cases/{case_id}")

    box = page.locator("[data-testid=voice-message]")
    box.locator("[data-action=record]").click()
    page.wait_for_selector("[data-testid=voice-message][data-state=recording]")
    page.wait_for_timeout(2500)  # the operator speaks for a moment
    box.locator("[data-action=stop]").click()
    send = box.locator("[data-action=send]")
    send.wait_for(state="visible")
    page.wait_for_function("() => !document.querySelector('[data-testid=voice-message] [data-action=send]').disabled")
    # Listen back: the preview plays the recording that will be sent.
    preview_s = page.evaluate("""() => new Promise(resolve => {
        const audio = document.querySelector('[data-role=preview]');
        const done = () => resolve(audio.duration);
        if (audio.readyState >= 1 && isFinite(audio.duration)) { done(); } else { audio.onloadedmetadata = done; }
    })""")
    assert 1.5 < preview_s < 10
    send.click()
    page.wait_for_selector("[data-testid=thread-entry]")  # the page shows the sent message in the thread
    assert page.locator("[data-testid=thread-entry]").count() == 1
    assert page.locator("[data-testid=thread-entry] audio").count() == 1
    page.locator("#thread").screenshot(path=str(artifacts / "thread_voice_message.png"))
    context.close()

    with app.extensions["ivr"].sessions() as session:
        [message] = session.scalars(select(ThreadMessage).where(ThreadMessage.call_id == call_id)).all()
        key, message_id = message.audio_key, message.id
        assert message.voice == "operator" and 1.5 < (message.audio_duration_s or 0) < 10
    assert key
    with make_recording_store(app.extensions["ivr"].settings).open(key) as handle:
        sent = handle.read()
    with wave.open(io.BytesIO(sent)) as audio:
        assert (audio.getframerate(), audio.getnchannels()) == (16000, 1)
        samples = audio.readframes(audio.getnframes())
    assert max(abs(v) for (v,) in struct.iter_unpack("<h", samples)) > 1000  # the tone, not silence

    caller = FetchesPlays(twilio, [Press("2"), Press("9"), Press(reference), Press(pin), Press("3"), Press("3")])
    result = twilio.call(caller)
    assert msg(app, "reporter_message_intro") in result.said()
    [url] = [u for u in result.played() if "/voice/thread-audio/" in u]
    fetched = caller.fetched[url]
    assert fetched.status_code == 200 and fetched.headers["Content-Type"].startswith("audio/wav")
    assert fetched.content == sent
    assert requests.get(url, timeout=10).status_code == 410  # the call is over: the link plays nothing
    with app.extensions["ivr"].sessions() as session:
        heard = session.get(ThreadMessage, message_id)
        assert heard is not None and heard.heard_at is not None
