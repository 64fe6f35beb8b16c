"""Actions as TwiML: the only module that knows what Twilio's verbs look like."""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

from ivr.flow.engine import (
    Action,
    CallState,
    Dial,
    Gather,
    Hangup,
    Play,
    PlayMessage,
    PlayRecording,
    Record,
    Say,
    Step,
)
from ivr.plain_text import strip_control

# Twilio ignores hints past this length; shorter lists also recognise better.
MAX_HINTS_CHARS = 1000


class VoiceUrls(Protocol):
    """Absolute URLs the TwiML points Twilio at; the state rides sealed inside them."""

    def step(self, state: CallState, event: str | None = None) -> str:
        """Where a Gather, a Dial or a no-input Redirect posts."""

    def recorded(self, state: CallState) -> str:
        """The Record action."""

    def recording_status(self, state: CallState) -> str:
        """The recordingStatusCallback."""

    def prompt(self, path: str) -> str:
        """A prompt audio file."""

    def recording(self, recording_sid: str) -> str:
        """The caller's own recording, for playback."""

    def line_number(self) -> str | None:
        """The hotline's own number: the caller ID shown when transferring, never the caller's."""

    def thread_audio(self, message_id: int) -> str:
        """A message for the reporter as audio: a signed, short-lived URL good for this call only."""


def to_twiml(result: Step, urls: VoiceUrls) -> str:
    """The TwiML document for one step of a call."""
    state = result.state
    parts = [_HEAD]
    for action in result.actions:
        parts.append(_render(action, state, urls))
    parts.append("</Response>")
    return "".join(parts)


# Written as text rather than through twilio's VoiceResponse: building an ElementTree for every
# webhook cost more than the rest of the step together (bench/README.md). The verbs and
# attribute names are Twilio's TwiML; tests parse the output as XML.
_HEAD = '<?xml version="1.0" encoding="UTF-8"?><Response>'


def _render(action: Action, state: CallState, urls: VoiceUrls) -> str:
    if isinstance(action, Say | Play | PlayRecording | PlayMessage):
        return _speak(action, urls)
    if isinstance(action, Gather):
        prompts = "".join(_speak(prompt, urls) for prompt in action.prompts)
        # Prompts before a Record or Dial: a key and silence both mean "go on" (e=go), so a caller's
        # stand-in can tell this Gather from a menu by its action alone.
        # After the reference and PIN, "heard": the caller stayed to their end (a stand-in caller
        # listens through these rather than answer them).
        go = "heard" if action.after_numbers else "go"
        target = urls.step(state, go) if action.falls_through else urls.step(state)
        gather = f"<Gather action={_q(target)}{_gather_attrs(action)}>{prompts}</Gather>"
        # Twilio runs the next verb when the caller gives no input (no action request is made).
        # Prompts before a Record, Dial or Hangup step on with "go": the same as a key that skipped them.
        return gather + _redirect(urls.step(state, go if action.falls_through else "noinput"))
    if isinstance(action, Record):
        attrs = {
            "action": urls.recorded(state),
            "method": "POST",
            "maxLength": action.max_length_s,
            "timeout": action.silence_timeout_s,
            "finishOnKey": action.finish_on_key,
            "playBeep": True,
            "trim": "trim-silence",
            "recordingStatusCallback": urls.recording_status(state),
            "recordingStatusCallbackMethod": "POST",
            "recordingStatusCallbackEvent": "completed",
        }
        # An empty recording makes no action request: the verb after <Record> runs instead.
        return _element("Record", attrs) + _redirect(urls.step(state, "noinput"))
    if isinstance(action, Dial):
        # The duty officer's phone must not show an anonymous caller's number: show the line's.
        attrs = {
            "action": urls.step(state, "dial"),
            "method": "POST",
            "timeout": action.timeout_s,
            "callerId": urls.line_number(),
        }
        return _element("Dial", attrs, _element("Number", {}, _escape(action.number)))
    if isinstance(action, Hangup):
        return "<Hangup />"
    return ""  # a Lookup never reaches Twilio: the view resolves it first


def _speak(action: Action, urls: VoiceUrls) -> str:
    if isinstance(action, Say):
        return _say(action)
    if isinstance(action, Play):
        return f"<Play>{_escape(urls.prompt(action.prompt))}</Play>"
    if isinstance(action, PlayRecording):
        return f"<Play>{_escape(urls.recording(action.recording_sid))}</Play>"
    if isinstance(action, PlayMessage):
        return f"<Play>{_escape(urls.thread_audio(action.message_id))}</Play>"
    return ""


@lru_cache(maxsize=4096)
def _say(action: Say) -> str:
    # Menus repeat the same sentences for every caller; their markup is made once.
    return _element("Say", {"voice": action.voice, "language": action.tts_language}, _escape(action.text))


def _redirect(url: str) -> str:
    return f'<Redirect method="POST">{_escape(url)}</Redirect>'


def _element(name: str, attrs: dict[str, object], body: str | None = None) -> str:
    rendered = "".join(f" {key}={_q(value)}" for key, value in attrs.items() if value is not None)
    if body is None:
        return f"<{name}{rendered} />"
    return f"<{name}{rendered}>{body}</{name}>"


def _escape(text: str) -> str:
    # Any text may reach here (an operator's message for the reporter): XML 1.0 forbids control characters.
    return strip_control(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _q(value: object) -> str:
    if isinstance(value, bool):
        return '"true"' if value else '"false"'
    return '"' + _escape(str(value)).replace('"', "&quot;") + '"'


@lru_cache(maxsize=4096)
def _gather_attrs(action: Gather) -> str:
    """Every attribute of a Gather but its action URL, made once per distinct Gather."""
    attrs: dict[str, object] = {
        "method": "POST",
        "timeout": action.timeout_s,
        "actionOnEmptyResult": False,
        "numDigits": action.num_digits,
        # Always explicit: Twilio's default "#" would silently end input in a menu that expects none.
        "finishOnKey": action.finish_on_key,
    }
    if action.speech_language:
        attrs["input"] = "dtmf speech"
        attrs["language"] = action.speech_language
        attrs["speechTimeout"] = "auto"
        hints = ",".join(action.hints)
        if len(hints) > MAX_HINTS_CHARS:
            hints = hints[:MAX_HINTS_CHARS].rsplit(",", 1)[0]
        if hints:
            attrs["hints"] = hints
    else:
        attrs["input"] = "dtmf"
    return "".join(f" {key}={_q(value)}" for key, value in attrs.items() if value is not None)
