"""The menu flow as data: what `config/flow.yaml` may say (pydantic), and the checked `Flow` calls walk.

Nothing here imports Flask, a database or Redis.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from ivr.flow.problems import FlowProblem
from ivr.flow.rota import Rota

Language = Literal["kk", "ru", "en"]
LANGUAGES: tuple[Language, ...] = ("kk", "ru", "en")
DTMF_KEYS = frozenset("0123456789*#")
SETTABLE = ("language", "anonymous", "urgent", "contact", "reply")
MAX_MENU_OPTIONS = 9

# --------------------------------------------------------------------------- the model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Message(_Strict):
    """One thing the line says, with its text and optional studio audio per language."""

    text: str
    audio: str | None = None


class MessageRef(_Strict):
    """A message said in a fixed language, e.g. the bilingual greeting before the choice."""

    message: str
    language: Language | None = None


class DigitsRef(_Strict):
    """A value read digit by digit ("4, 8, 1, 5"), e.g. the case reference."""

    digits: Literal["reference", "pin", "contact"]


class RecordingRef(_Strict):
    """Plays back what the caller just recorded."""

    recording: Literal[True]


class CaseStatusRef(_Strict):
    """The case's status in plain words: message `case_status_<status>` in the call's language."""

    case_status: Literal[True]


class ReporterMessageRef(_Strict):
    """The short message an operator left for the reporter, if any."""

    reporter_message: Literal[True]


class RegionRef(_Strict):
    """The name of the region the caller just said, read back for them to confirm."""

    region: Literal[True]


SAY_ITEM_TAGS = ("message", "digits", "recording", "case_status", "reporter_message", "region")


def _say_item_tag(value: Any) -> str:
    """Which kind of say item this is, from its one key, so a mistake is reported once."""
    if isinstance(value, str):
        return "str"
    if isinstance(value, dict):
        return next((tag for tag in SAY_ITEM_TAGS if tag in value), "unknown")
    tags: dict[type, str] = {MessageRef: "message", DigitsRef: "digits", RecordingRef: "recording",
                             CaseStatusRef: "case_status", ReporterMessageRef: "reporter_message",
                             RegionRef: "region"}
    return tags.get(type(value), "unknown")


SayItem = Annotated[
    Annotated[str, Tag("str")]
    | Annotated[MessageRef, Tag("message")]
    | Annotated[DigitsRef, Tag("digits")]
    | Annotated[RecordingRef, Tag("recording")]
    | Annotated[CaseStatusRef, Tag("case_status")]
    | Annotated[ReporterMessageRef, Tag("reporter_message")]
    | Annotated[RegionRef, Tag("region")],
    Discriminator(_say_item_tag, custom_error_type="say_item",
                  custom_error_message="a say item is a message name, or one of {message: ...}, {digits: ...}, "
                                       "{recording: true}, {case_status: true}, {reporter_message: true}, "
                                       "{region: true}"),
]
CASE_STATUSES = ("new", "in_review", "forwarded", "closed")
LOOKUP_OUTCOMES = {"verify_reference": ("ok", "wrong", "ended"), "issue_pin": ("ok", "failed"),
                   "replay_messages": ("ok", "failed")}
# Outcomes a flow may give a way of its own, or leave to "ok".
OPTIONAL_OUTCOMES = {"verify_reference": ("messages",)}


def _items(*keys: str) -> list[SayItem]:
    """A default list of say items."""
    return list(keys)


class Choice(_Strict):
    """Where a keypress (or spoken word) leads, and what it sets on the way."""

    goto: str
    set: dict[str, Any] = Field(default_factory=dict)
    words: dict[Language, list[str]] = Field(default_factory=dict)


class _Waits(_Strict):
    say: list[SayItem] = Field(default_factory=list)
    # What a retry says instead of `say`: a short question, never the long explanation again.
    reprompt: list[SayItem] | None = None
    timeout_s: int = Field(6, ge=1, le=60)
    retries: int = Field(2, ge=0, le=5)
    # Tries after silence, if fewer than `retries`: a silent caller is asked once, not three times.
    silence_retries: int | None = Field(None, ge=0, le=5)
    no_input: list[SayItem] = Field(default_factory=lambda: _items("no_input"))
    invalid: list[SayItem] = Field(default_factory=lambda: _items("invalid_input"))
    after_retries: Choice


class SayNode(_Strict):
    """Speaks, then moves on without waiting."""

    kind: Literal["say"]
    say: list[SayItem]
    next: str
    # Where the call goes instead when it has no reference to read out: the report could be
    # stored neither in the database nor in the spool, and a caller never hears numbers not kept.
    no_reference: str | None = None


class MenuNode(_Waits):
    """Waits for one key (or, where options carry words, a spoken answer)."""

    kind: Literal["menu"]
    options: dict[str, Choice]
    speech: bool = False


class DigitsNode(_Waits):
    """Waits for a number keyed in, checked against a pattern."""

    kind: Literal["digits"]
    save_as: Literal["contact", "reference", "pin"]
    min_digits: int = Field(1, ge=1, le=30)
    max_digits: int = Field(12, ge=1, le=30)
    finish_on_key: Literal["#", "*"] = "#"
    pattern: str | None = None
    check_digit: bool = False  # a case reference: its Damm check digit must hold
    next: str


class LookupNode(_Strict):
    """Asks the line to look something up or change it (the view does it); goes on by outcome.

    `verify_reference`: ok | wrong | ended (too many wrong PINs in this call).
    `issue_pin`: ok | failed.
    `replay_messages`: ok | failed (no messages were said in this call).
    `verify_reference` may also name `messages`: where a reporter with new messages goes.
    """

    kind: Literal["lookup"]
    op: Literal["verify_reference", "issue_pin", "replay_messages"]
    say: list[SayItem] = Field(default_factory=list)
    outcomes: dict[str, str]


class RegionNode(_Waits):
    """Waits for a region: its two-digit code, or its name spoken in any configured alias."""

    kind: Literal["region"]
    list_key: str = "*"  # not a digit: region codes are digits
    list_intro: list[SayItem] = Field(default_factory=list)
    # Read back a spoken region and ask to confirm it ({region: true} names it); empty: no check.
    confirm: list[SayItem] = Field(default_factory=list)
    next: str


class RecordNode(_Strict):
    """Records the report; a too-short one gets one retry, an empty one the no-input path."""

    kind: Literal["record"]
    say: list[SayItem] = Field(default_factory=list)
    max_length_s: int = Field(300, ge=10, le=14400)
    silence_timeout_s: int = Field(8, ge=1, le=60)
    min_length_s: int = Field(3, ge=0, le=60)
    finish_on_key: str = "#"
    too_short: list[SayItem] = Field(default_factory=lambda: _items("too_short"))
    retries: int = Field(1, ge=0, le=3)
    no_input: list[SayItem] = Field(default_factory=lambda: _items("no_input"))
    after_retries: Choice
    next: str


class DialNode(_Strict):
    """Transfers to a configured number; no answer, busy or no number goes to `next`."""

    kind: Literal["dial"]
    say: list[SayItem] = Field(default_factory=list)
    number: str  # a name under `numbers:`: one number, or a rota (ivr/flow/rota.py)
    timeout_s: int = Field(20, ge=5, le=120)  # per number rung
    set: dict[str, Any] = Field(default_factory=dict)
    answered: str
    next: str  # nobody answered
    voicemail: str | None = None  # nobody on duty at this hour (empty rota or a gap); default: next


class SetNode(_Strict):
    """Sets call facts, then goes on."""

    kind: Literal["set"]
    set: dict[str, Any]
    goto: str


class HangupNode(_Strict):
    """Says goodbye and ends the call."""

    kind: Literal["hangup"]
    say: list[SayItem] = Field(default_factory=list)


Node = Annotated[
    SayNode | MenuNode | DigitsNode | RegionNode | RecordNode | DialNode | SetNode | HangupNode | LookupNode,
    Field(discriminator="kind"),
]
WAITING_KINDS = ("menu", "digits", "region", "record", "dial")


class VoiceConfig(_Strict):
    """How a language is spoken: a Twilio TTS voice, or prompt audio files only."""

    voice: str | None = None
    tts_language: str | None = None
    speech_language: str | None = None
    audio_only: bool = False

    @model_validator(mode="after")
    def _voice_or_audio(self) -> VoiceConfig:
        if not self.audio_only and not (self.voice and self.tts_language):
            raise ValueError("give voice and tts_language, or audio_only: true")
        return self


class Region(_Strict):
    """A region callers can name: keypad code, official KATO code, names and spoken aliases."""

    code: str = Field(pattern=r"^\d{2}$")
    kato: str = Field(pattern=r"^\d{9}$")
    names: dict[Language, str]
    aliases: dict[Language, list[str]] = Field(default_factory=dict)


class Limits(_Strict):
    pin_digits: int = Field(6, ge=4, le=8)
    pin_tries_per_call: int = Field(3, ge=1, le=5)


class FlowDocument(_Strict):
    """The whole of flow.yaml as written."""

    name: str = "public"
    languages: dict[Language, VoiceConfig]
    default_language: Language
    numbers: dict[str, Rota] = Field(default_factory=dict)  # a plain string is one number, 24/7
    limits: Limits = Limits()
    start: str
    regions: list[Region]
    messages: dict[str, dict[Language, str | Message]]
    nodes: dict[str, Node]


# --------------------------------------------------------------------------- the loaded flow


@dataclass(frozen=True)
class Flow:
    """A checked flow, immutable; `version` names its exact content."""

    version: str
    doc: FlowDocument
    path: str
    source: str
    warnings: tuple[FlowProblem, ...] = ()
    regions_by_code: Mapping[str, Region] = field(default_factory=dict)
    region_aliases: Mapping[str, str] = field(default_factory=dict)
    # Steps already worked out: the engine is pure, so an answer computed once holds for every call.
    step_cache: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def name(self) -> str:
        """The flow's name, e.g. `public`."""
        return self.doc.name

    @property
    def languages(self) -> tuple[Language, ...]:
        """Languages callers can choose, in file order."""
        return tuple(self.doc.languages)

    @property
    def voiced_languages(self) -> frozenset[Language]:
        """Languages Twilio's TTS can read in this flow; text in the others must be rendered (Kazakh)."""
        return frozenset(code for code, config in self.doc.languages.items() if config.voice and config.tts_language)

    def node(self, node_id: str) -> Node:
        """The node with this id."""
        return self.doc.nodes[node_id]

    def message(self, key: str, language: Language) -> Message:
        """A message in one language (validation guarantees it exists)."""
        value = self.doc.messages[key][language]
        return value if isinstance(value, Message) else Message(text=value)

    def region_for_code(self, code: str) -> Region | None:
        """The region a caller keyed in, if any."""
        return self.regions_by_code.get(code)

    def region_for_speech(self, said: str) -> Region | None:
        """The region whose name or alias the caller said, ignoring case and punctuation."""
        words = normalize_words(said)
        if not words:
            return None
        if words in self.region_aliases:
            return self.regions_by_code[self.region_aliases[words]]
        # Speech results often wrap the name: "город Алматы", "Almaty please".
        for alias, code in sorted(self.region_aliases.items(), key=lambda kv: -len(kv[0])):
            if f" {alias} " in f" {words} ":
                return self.regions_by_code[code]
        return None


# Kazakh letters a Russian recogniser cannot write, folded to the ones it writes instead.
_FOLD = str.maketrans({"ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "һ": "х", "і": "и",
                       "ё": "е"})


_WORD_FORMS = {"обл": "область", "oblysy": "oblast", "region": "oblast", "облысы": "облысы"}


def normalize_words(text: str) -> str:
    """Lower-case words without punctuation or Kazakh-only letters, for matching spoken answers."""
    words = re.findall(r"\w+", text.lower().translate(_FOLD))
    # "обл." is how a recogniser (or a hand) shortens "область"; "oblysy" is Kazakh in Latin letters.
    folded = " ".join(_WORD_FORMS.get(word, word) for word in words)
    # Қазақстан folds to "казакстан", but a Russian recogniser writes "казахстан".
    return folded.replace("казакстан", "казахстан")
