"""Seconds a caller spends before the beep, walked through the real webhooks of the shipped flow.

    python -m bench.caller_time [--flow config/flow.yaml]

The real app (`Sandbox`: webhooks, signature checks, sealed state) answers; this module plays
Twilio's side, signing every request with twilio's `RequestValidator`, and runs the TwiML it
gets back until the first <Record> (the beep). Per language it prints, for the shortest
anonymous path (language key, 1, a region code, then the recording):

  (a) listening to everything: each key pressed when the prompts of its <Gather> have ended;
  (b) pressing each key as soon as the line accepts it: keys cut every prompt inside a <Gather>;
      prompts outside any <Gather> are heard whole;
  (c) pressing nothing after the language key (and "silent": pressing nothing at all), every
      timeout waited out;
  and when the urgent option (the prompt that says 0) has been said, listening to everything.

Kazakh prompts are timed from their WAV files. Russian and English are Twilio TTS, which cannot
be rendered here: their texts are rendered with espeak-ng (voices `ru`, `en-us`) at the rate of
the Kazakh placeholders (ivr.prompts.SPEED_WPM, 150 words a minute) and timed; Polly voices
speak at about that rate or faster, so the figures err long.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
import uuid
import wave
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urljoin, urlsplit

from twilio.request_validator import RequestValidator

from ivr.flow.loading import load_flow
from ivr.flow.model import Flow, Language
from ivr.prompts import _Prompt, _synthesize, _tools, prompt_text
from ivr.settings import Settings

Strategy = Literal["listen", "press", "silent"]
TARGETS = {"listen": 30.0, "press": 12.0, "silent": 60.0, "urgent": 15.0}
LANGUAGE_KEYS: dict[Language, str] = {"kk": "1", "ru": "2", "en": "3"}
ANONYMOUS_KEY = "1"
REGION_CODE = "02"
SKIP_KEY = "1"
URGENT_KEY = re.compile(r"(?<!\d, )(?<!\d)0(?!\d)")
_CACHE = Path(tempfile.gettempdir()) / "ivr-caller-time"


@dataclass(frozen=True)
class Timing:
    """Seconds before the beep for one language and one way of calling."""

    language: str
    strategy: str
    seconds: float
    urgent_at: float | None  # when the urgent option had been said (listening), else None


def spoken_seconds(language: str, text: str) -> float:
    """How long espeak-ng takes to say `text` at the placeholders' rate (cached by text)."""
    _CACHE.mkdir(exist_ok=True)
    target = _CACHE / f"{hashlib.sha256(f'{language}|{text}'.encode()).hexdigest()[:24]}.wav"
    if not target.exists():
        _synthesize(_tools(), _Prompt(language, text, studio=False), target)  # type: ignore[arg-type]
    return wav_seconds(target)


def wav_seconds(path: Path) -> float:
    """A WAV file's length in seconds."""
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


class _Walk:
    """One call, Twilio's side: signed POSTs, TwiML run verb by verb, a clock of what was heard."""

    def __init__(self, app: object, settings: Settings, flow: Flow, keys: list[str], strategy: Strategy) -> None:
        self.client = app.test_client()  # type: ignore[attr-defined]
        self.validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
        self.base = settings.public_base_url.rstrip("/")
        self.account_sid = settings.twilio_account_sid
        self.prompts_dir = settings.prompts_dir
        self.flow = flow
        self.keys = list(keys)
        self.strategy = strategy
        self.call_sid = "CA" + uuid.uuid4().hex
        self.clock = 0.0
        self.urgent_at: float | None = None

    def post(self, url: str, **extra: str) -> ET.Element:
        form = {"AccountSid": self.account_sid, "CallSid": self.call_sid, "CallStatus": "in-progress",
                "From": "+77010000000", "To": "+77172141424", "Direction": "inbound", **extra}
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, form)}
        parts = urlsplit(url)
        response = self.client.post(parts.path + (f"?{parts.query}" if parts.query else ""), data=form,
                                    headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"POST {parts.path} answered {response.status_code}")
        return ET.fromstring(response.get_data(as_text=True))

    def seconds_of(self, verb: ET.Element) -> float:
        if verb.tag == "Say":
            text = " ".join("".join(verb.itertext()).split())
            seconds = spoken_seconds((verb.get("language") or "ru")[:2], text)
        else:
            path = unquote(urlsplit((verb.text or "").strip()).path).split("/voice/prompts/", 1)[-1]
            seconds = wav_seconds(self.prompts_dir / path)
            text = prompt_text(self.flow, path) or ""
        # The urgent option is the one answered with 0 ("— 0", "0-ді басыңыз", "press 0").
        if URGENT_KEY.search(text) and self.urgent_at is None:
            self.urgent_at = self.clock + seconds
        return seconds

    def run(self) -> float:
        """Seconds until the beep."""
        url = f"{self.base}/voice/incoming"
        root = self.post(url)
        for _ in range(100):
            following = self.execute(url, list(root))
            if following is None:
                return self.clock
            url, root = following
        raise RuntimeError("the call never reached a recording")

    def execute(self, url: str, verbs: list[ET.Element]) -> tuple[str, ET.Element] | None:
        for index, verb in enumerate(verbs):
            if verb.tag in ("Say", "Play"):
                self.clock += self.seconds_of(verb)
            elif verb.tag == "Gather":
                after = verbs[index + 1] if index + 1 < len(verbs) else None
                menu = after is not None and after.tag == "Redirect" and "e=go" not in (after.text or "")
                key = (self.keys.pop(0) if self.keys else None) if menu else SKIP_KEY
                press_at_once = self.strategy == "press" and key is not None
                if self.strategy == "silent" and self.clock == 0.0 and menu and key is not None:
                    press_at_once = False  # the language key, pressed after the menu
                elif self.strategy == "silent" and not (menu and self.clock == 0.0):
                    key = None
                elif self.strategy == "listen" and not menu:
                    key = None  # listens to the guidance too
                if not press_at_once:
                    for prompt in verb:
                        self.clock += self.seconds_of(prompt) if prompt.tag in ("Say", "Play") else 0.0
                if key is None:
                    self.clock += float(verb.get("timeout", "5"))
                    continue  # the Redirect after it (or, at Twilio, the next verb)
                action = urljoin(url, verb.get("action") or url)
                return action, self.post(action, Digits=key)
            elif verb.tag == "Redirect":
                target = urljoin(url, (verb.text or "").strip())
                return target, self.post(target)
            elif verb.tag == "Record":
                return None  # the beep
            else:
                raise RuntimeError(f"<{verb.tag}> on the way to the recording")
        raise RuntimeError("the call ended before the recording")


def measure(settings: Settings, flow_path: Path | None = None) -> list[Timing]:
    """(a), (b), (c) per language, and a caller silent from the start, on the given flow."""
    from ivr.twilio_standin.sandbox import Sandbox

    with Sandbox(settings, flow_path=flow_path, quiet=True) as sandbox:
        flow = load_flow(sandbox.settings.flow_path)
        app, walk_settings = sandbox.app, sandbox.settings
        timings = []
        for language in flow.languages:
            keys = [LANGUAGE_KEYS[language], ANONYMOUS_KEY, REGION_CODE]
            strategies: tuple[Strategy, ...] = ("listen", "press", "silent")
            for strategy in strategies:
                walk = _Walk(app, walk_settings, flow, keys, strategy)
                seconds = walk.run()
                timings.append(Timing(language, strategy, round(seconds, 1),
                                      round(walk.urgent_at, 1) if walk.urgent_at is not None else None))
        walk = _Walk(app, walk_settings, flow, [], "silent")
        timings.append(Timing(flow.doc.default_language, "silent from the start", round(walk.run(), 1), None))
    return timings


def _settings() -> Settings:
    from ivr.settings import load_settings

    try:
        return load_settings()
    except Exception:  # an unconfigured checkout still measures with the defaults
        return Settings()


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 if a figure misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flow", type=Path, default=None, help="flow file (default: IVR_FLOW_PATH)")
    args = parser.parse_args(argv)
    timings = measure(_settings(), args.flow)
    names = {"listen": "(a) listening", "press": "(b) pressing at once", "silent": "(c) pressing nothing"}
    print(f"{'language':9} {'way':34} {'to the beep':>11} {'target':>7}")
    missed = False
    for t in timings:
        target = TARGETS["silent" if t.strategy.startswith("silent") else t.strategy]
        missed |= t.seconds > target
        print(f"{t.language:9} {names.get(t.strategy, '(c) ' + t.strategy):34} {t.seconds:10.1f}s {target:6.0f}s")
        if t.urgent_at is not None and t.strategy == "listen":
            missed |= t.urgent_at > TARGETS["urgent"]
            print(f"{t.language:9} {'urgent option said by':34} {t.urgent_at:10.1f}s {TARGETS['urgent']:6.0f}s")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
