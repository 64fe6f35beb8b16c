"""Actions as TwiML: the only module that knows Twilio's `VoiceResponse`."""

from __future__ import annotations

from typing import Protocol

from twilio.twiml.voice_response import Gather as TwimlGather
from twilio.twiml.voice_response import VoiceResponse

from ivr.flow.engine import (
    Action,
    CallState,
    Dial,
    Gather,
    Hangup,
    Play,
    PlayRecording,
    Record,
    Say,
    Step,
)

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


def to_twiml(result: Step, urls: VoiceUrls) -> str:
    """The TwiML document for one step of a call."""
    response = VoiceResponse()
    state = result.state
    for action in result.actions:
        _append(response, action, state, urls)
    return str(response)


def _append(response: VoiceResponse, action: Action, state: CallState, urls: VoiceUrls) -> None:
    if isinstance(action, Say | Play | PlayRecording):
        _speak(response, action, urls)
    elif isinstance(action, Gather):
        gather = _gather(action, state, urls)
        for prompt in action.prompts:
            _speak(gather, prompt, urls)
        response.append(gather)
        # Twilio runs the next verb when the caller gives no input (no action request is made).
        response.redirect(urls.step(state, "noinput"), method="POST")
    elif isinstance(action, Record):
        response.record(
            action=urls.recorded(state),
            method="POST",
            max_length=action.max_length_s,
            timeout=action.silence_timeout_s,
            finish_on_key=action.finish_on_key,
            play_beep=True,
            trim="trim-silence",
            recording_status_callback=urls.recording_status(state),
            recording_status_callback_method="POST",
            recording_status_callback_event="completed",
        )
        # An empty recording makes no action request: the verb after <Record> runs instead.
        response.redirect(urls.step(state, "noinput"), method="POST")
    elif isinstance(action, Dial):
        # The duty officer's phone must not show an anonymous caller's number: show the line's.
        dial = response.dial(
            action=urls.step(state, "dial"), method="POST", timeout=action.timeout_s, caller_id=urls.line_number()
        )
        dial.number(action.number)
    elif isinstance(action, Hangup):
        response.hangup()


def _speak(target: VoiceResponse | TwimlGather, action: Action, urls: VoiceUrls) -> None:
    if isinstance(action, Say):
        target.say(action.text, voice=action.voice, language=action.tts_language)
    elif isinstance(action, Play):
        target.play(urls.prompt(action.prompt))
    elif isinstance(action, PlayRecording):
        target.play(urls.recording(action.recording_sid))


def _gather(action: Gather, state: CallState, urls: VoiceUrls) -> TwimlGather:
    attrs: dict[str, object] = {
        "action": urls.step(state),
        "method": "POST",
        "timeout": action.timeout_s,
        "action_on_empty_result": False,
    }
    if action.num_digits is not None:
        attrs["num_digits"] = action.num_digits
    # Always explicit: Twilio's default "#" would silently end input in a menu that expects none.
    attrs["finish_on_key"] = action.finish_on_key
    if action.speech_language:
        attrs["input"] = "dtmf speech"
        attrs["language"] = action.speech_language
        attrs["speech_timeout"] = "auto"
        hints = ",".join(action.hints)
        if len(hints) > MAX_HINTS_CHARS:
            hints = hints[:MAX_HINTS_CHARS].rsplit(",", 1)[0]
        if hints:
            attrs["hints"] = hints
    else:
        attrs["input"] = "dtmf"
    return TwimlGather(**attrs)
