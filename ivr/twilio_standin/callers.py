"""Who is on the phone in a simulated call: a script (`--keys`) or a person at the terminal.

A `Caller` answers each <Gather> and <Record>; `CallerInputs` turns its answers into the player's
inputs and what the caller hears into `Heard` lines (a Kazakh prompt file is shown as the words
behind it). `place_call` plays one call with them; `ivr simulate`, `/admin/simulate` and the demo
call into a running line (`ivr simulate --into`) all use it.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

from ivr.twilio_standin.player import (
    DialResult,
    EmptyRecording,
    Hangup,
    Input,
    Press,
    Silence,
    Speak,
    Talk,
    TwilioSimulator,
    new_sid,
)

DEFAULT_FROM = "+77010000000"
TONE_S = 5
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



# --------------------------------------------------------------------------- the caller in the player


PromptDescriber = Callable[[str], tuple[str, str | None, str | None]]  # url -> (text, language, source)
ENDINGS = {"hangup-verb": "the line hung up", "caller": "you hung up", "no-more-verbs": "the call ended"}


class CallerInputs:
    """A `Caller` as the player's input source; what happens in the call becomes `Heard` lines."""

    def __init__(
        self,
        caller: Caller,
        call: SimulatedCall,
        *,
        api_base_url: str,
        describe_play: PromptDescriber | None = None,
        on_heard: Callable[[Heard], None] | None = None,
    ) -> None:
        self.caller = caller
        self.call = call
        self.api_base_url = api_base_url.rstrip("/")
        self.describe_play = describe_play or (lambda url: (url, None, None))
        self.on_heard = on_heard

    def hear(self, heard: Heard) -> None:
        """Add a line to the call's transcript (and show it at once, on a terminal)."""
        self.call.heard.append(heard)
        if self.on_heard is not None:
            self.on_heard(heard)

    def on_event(self, event: tuple[Any, ...]) -> None:
        """What the player did, as the caller hears it."""
        kind = event[0]
        if kind == "say":
            self.hear(Heard("say", event[1], (event[2] or "")[:2] or None))
        elif kind == "play":
            url = event[1]
            if url.startswith(self.api_base_url) and "/Recordings/" in url:
                self.hear(Heard("recording", "your recording plays back"))
            else:
                self.hear(Heard("play", *self.describe_play(url)))
        elif kind == "dial":
            self.hear(Heard("dial", f"transfer to {event[1]}: no answer (simulated)"))
        elif kind == "hangup":
            self.hear(Heard("end", ENDINGS["hangup-verb"]))
        elif kind == "caller-hangup":
            self.hear(Heard("end", ENDINGS["caller"]))
        elif kind == "reject":
            self.hear(Heard("end", f"the line rejected the call ({event[1]})"))

    def answer(self, verb: str, attrs: dict[str, str]) -> Input:
        """Ask the caller, at a <Gather>, <Record> or <Dial>."""
        if verb == "Gather":
            return self._gather(attrs)
        if verb == "Record":
            return self._record(attrs)
        return DialResult("no-answer")  # nobody answers a simulated transfer

    def _gather(self, attrs: dict[str, str]) -> Input:
        if "e=go" in attrs.get("action", ""):
            return Silence()  # guidance before the beep or a transfer: the caller listens, keys stay for menus
        prompt = GatherPrompt(
            num_digits=int(attrs.get("numDigits") or 0) or None,
            finish_on_key=attrs.get("finishOnKey", "#"),
            accepts_speech="speech" in (attrs.get("input") or "dtmf").split(),
            timeout_s=int(attrs.get("timeout", "5")),
        )
        answer = self.caller.gather(prompt)
        if isinstance(answer, HangUp):
            return Hangup()
        if isinstance(answer, Speech) and prompt.accepts_speech and answer.text:
            self.hear(Heard("speech", answer.text))
            return Speak(answer.text)
        if isinstance(answer, str) and answer:
            self.hear(Heard("keys", answer))
            return Press(answer)
        self.hear(Heard("silence", "(silence)" if not isinstance(answer, Speech) else
                        "(speech is not listened to here: silence)"))
        return Silence()

    def _record(self, attrs: dict[str, str]) -> Input:
        recording = self.caller.record()
        if isinstance(recording, HangUp):
            return Hangup(recorded_s=0)
        if recording is None:
            self.hear(Heard("record", "recording: (silence)"))
            return EmptyRecording()
        duration = min(recording.duration_s, int(attrs.get("maxLength", "3600")))
        self.hear(Heard("record", f"recording: {recording.name}, {duration} s"))
        # The caller ends the recording with the finish key, as the prompt asks.
        finish = attrs.get("finishOnKey", "1234567890*#")[:1]
        return Talk(duration_s=recording.duration_s, finish=finish, audio=recording.audio)


def prompt_describer(flow: Any, others: Iterable[Any] = ()) -> PromptDescriber:
    """Played prompt URLs as the words behind them (`ivr.prompts.prompt_text`), from this flow or the others."""
    from ivr.prompts import prompt_text

    def describe(url: str) -> tuple[str, str | None, str | None]:
        path = urlsplit(url).path
        if "/voice/prompts/" not in path:
            return url, None, None
        relative = unquote(path.split("/voice/prompts/", 1)[1])
        text = prompt_text(flow, relative)
        if text is None:  # a prompt of another version or line
            for other in others:
                text = prompt_text(other, relative)
                if text is not None:
                    break
        language = relative.split("/", 1)[0] if "/" in relative else None
        return text or f"(audio {relative})", language, relative

    return describe


def place_call(
    simulator: TwilioSimulator,
    caller: Caller,
    *,
    to: str,
    from_: str = DEFAULT_FROM,
    describe_play: PromptDescriber | None = None,
    on_heard: Callable[[Heard], None] | None = None,
) -> SimulatedCall:
    """Play one call with this caller; the transcript is filled in even when the call fails midway."""
    call = SimulatedCall(call_sid=new_sid("CA"), to=to, from_=from_)
    inputs = CallerInputs(caller, call, api_base_url=simulator.api_base_url, describe_play=describe_play,
                          on_heard=on_heard)
    simulator.on_event = inputs.on_event
    try:
        outcome = simulator.call(inputs, from_=from_, to=to, call_sid=call.call_sid)
    finally:
        simulator.on_event = None
    call.recordings = list(outcome.recordings)
    call.ended_by = outcome.ended_by
    call.duration_s = outcome.duration_s
    if outcome.ended_by == "no-more-verbs":
        inputs.hear(Heard("end", ENDINGS["no-more-verbs"]))
    return call
