"""The menu flow as data: what `config/flow.yaml` may say, and the checks that run on load.

A flow that fails any check is refused whole, with every problem named by file, line and
node, so an admin's typo can never reach a caller. Nothing here imports Flask, a database
or Redis.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

Language = Literal["kk", "ru", "en"]
LANGUAGES: tuple[Language, ...] = ("kk", "ru", "en")
DTMF_KEYS = frozenset("0123456789*#")
SETTABLE = ("language", "anonymous", "urgent", "contact")
MAX_MENU_OPTIONS = 9


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class FlowProblem:
    """One thing wrong with a flow file, located for the admin who has to fix it."""

    path: str
    line: int | None
    node: str | None
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        node = f" [node {self.node}]" if self.node else ""
        return f"{where}:{node} {self.severity}: {self.message}"


class FlowError(Exception):
    """A flow that cannot serve calls; `problems` lists every error found, not just the first."""

    def __init__(self, problems: list[FlowProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @property
    def first(self) -> FlowProblem:
        """The first problem, for a one-line log or page."""
        return self.problems[0]


# --------------------------------------------------------------------------- YAML with lines


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers where each mapping key stands and refuses duplicate keys."""

    key_lines: dict[tuple[int, Any], int]
    map_lines: dict[int, int]
    duplicates: list[tuple[str, int]]


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, int | float) and not isinstance(key, bool):
            # Menu keys are keypad digits: "1" and 1 must mean the same thing.
            key = str(key)
        if key in result:
            loader.duplicates.append((str(key), key_node.start_mark.line + 1))
        result[key] = loader.construct_object(value_node, deep=True)
        loader.key_lines[id(result), key] = key_node.start_mark.line + 1
    loader.map_lines[id(result)] = node.start_mark.line + 1
    return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


@dataclass
class _Located:
    data: Any
    key_lines: dict[tuple[int, Any], int]
    map_lines: dict[int, int]
    duplicates: list[tuple[str, int]]

    def line_of(self, loc: Iterable[Any]) -> int | None:
        """The line of the deepest key on `loc` that exists in the file."""
        current, line = self.data, self.map_lines.get(id(self.data))
        for part in loc:
            if isinstance(current, dict) and part in current:
                line = self.key_lines.get((id(current), part), line)
                current = current[part]
            elif isinstance(current, list) and isinstance(part, int) and part < len(current):
                current = current[part]
                line = self.map_lines.get(id(current), line)
            else:
                break
        return line


def _load_yaml(text: str, path: str) -> _Located:
    loader = _LineLoader(text)
    loader.key_lines = {}
    loader.map_lines = {}
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise FlowError([FlowProblem(path, line, None, f"not valid YAML: {exc.problem}")]) from None
    finally:
        loader.dispose()
    return _Located(data, loader.key_lines, loader.map_lines, loader.duplicates)


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


_SAY_ITEM_TAGS = ("message", "digits", "recording", "case_status", "reporter_message", "region")


def _say_item_tag(value: Any) -> str:
    """Which kind of say item this is, from its one key, so a mistake is reported once."""
    if isinstance(value, str):
        return "str"
    if isinstance(value, dict):
        return next((tag for tag in _SAY_ITEM_TAGS if tag in value), "unknown")
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
LOOKUP_OUTCOMES = {"verify_reference": ("ok", "wrong", "ended"), "issue_pin": ("ok", "failed")}


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
    """

    kind: Literal["lookup"]
    op: Literal["verify_reference", "issue_pin"]
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
    number: str
    timeout_s: int = Field(20, ge=5, le=120)
    set: dict[str, Any] = Field(default_factory=dict)
    answered: str
    next: str


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
    numbers: dict[str, str] = Field(default_factory=dict)
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


# --------------------------------------------------------------------------- loading


def load_flow(path: Path | str, *, prompts_dir: Path | str | None = None) -> Flow:
    """Read and check a flow file; raise FlowError listing every problem with its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowError([FlowProblem(str(path), None, None, f"cannot read: {exc.strerror}")]) from None
    return parse_flow(text, str(path), prompts_dir=Path(prompts_dir) if prompts_dir else None)


def parse_flow(text: str, path: str = "flow.yaml", *, prompts_dir: Path | None = None) -> Flow:
    """Check flow text as `load_flow` does; `path` only names the file in messages."""
    located = _load_yaml(text, path)
    problems = [
        FlowProblem(path, line, None, f"duplicate key {key!r}: the second silently replaces the first")
        for key, line in located.duplicates
    ]
    if not isinstance(located.data, dict):
        raise FlowError([FlowProblem(path, 1, None, "the file must be a mapping (name: value)")])
    try:
        doc = FlowDocument.model_validate(located.data)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, located, path)
        raise FlowError(problems) from None
    checker = _Checker(doc, located, path, prompts_dir)
    problems += checker.run()
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise FlowError(errors)
    by_code = {r.code: r for r in doc.regions}
    aliases: dict[str, str] = {}
    for region in doc.regions:
        for spoken in [*region.names.values(), *(a for lst in region.aliases.values() for a in lst)]:
            aliases[normalize_words(spoken)] = region.code
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return Flow(
        version=version,
        doc=doc,
        path=path,
        source=text,
        warnings=tuple(problems),
        regions_by_code=by_code,
        region_aliases=aliases,
    )


def _pydantic_problems(exc: ValidationError, located: _Located, path: str) -> list[FlowProblem]:
    problems, seen = [], set()
    for error in exc.errors():
        loc = _admin_loc(error["loc"])
        node = str(loc[1]) if len(loc) > 1 and loc[0] == "nodes" else None
        where = ".".join(str(p) for p in loc)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = f"unknown field {loc[-1]!r} (a typo?)"
        elif error["type"] == "missing":
            message = f"missing field {loc[-1]!r}"
        elif error["type"] == "union_tag_invalid":
            message = f"unknown kind; use one of: {', '.join(_KINDS)}"
        elif error["type"] == "literal_error":
            message = f"{error['input']!r} is not allowed; {error['msg'].lower()}"
        if (where, message) in seen:
            continue  # a union reports the same mistake once per member it tried
        seen.add((where, message))
        problems.append(FlowProblem(path, located.line_of(loc), node, f"{where}: {message}"))
    return problems


_KINDS = ("say", "menu", "digits", "region", "record", "dial", "set", "hangup", "lookup")
_MEMBER_NAMES = frozenset(
    {"str", "MessageRef", "DigitsRef", "RecordingRef", "Message", "CaseStatusRef", "ReporterMessageRef",
     "RegionRef"}
)


def _admin_loc(loc: tuple[Any, ...]) -> list[Any]:
    """The error's path as the admin wrote it: pydantic inserts union tags and class names."""
    parts = list(loc)
    if len(parts) > 2 and parts[0] == "nodes" and parts[2] in _KINDS:
        del parts[2]
    # A say item's tag follows its index in the list: ("say", 0, "message", ...).
    parts = [p for i, p in enumerate(parts)
             if not (i > 0 and isinstance(parts[i - 1], int) and p in ("str", "unknown", *_SAY_ITEM_TAGS))]
    return [p for p in parts if not (isinstance(p, str) and (p in _MEMBER_NAMES or "[" in p))]


class _Checker:
    """Checks what pydantic cannot: references, reachability, translations, patterns."""

    def __init__(self, doc: FlowDocument, located: _Located, path: str, prompts_dir: Path | None):
        self.doc = doc
        self.located = located
        self.path = path
        self.prompts_dir = prompts_dir
        self.problems: list[FlowProblem] = []

    def problem(self, loc: list[Any], message: str, *, severity: str = "error") -> None:
        node = str(loc[1]) if len(loc) > 1 and loc[0] == "nodes" else None
        self.problems.append(
            FlowProblem(self.path, self.located.line_of(loc), node, message, severity)  # type: ignore[arg-type]
        )

    def run(self) -> list[FlowProblem]:
        doc = self.doc
        if doc.default_language not in doc.languages:
            self.problem(["default_language"], f"{doc.default_language!r} is not in languages")
        if doc.start not in doc.nodes:
            self.problem(["start"], f"start node {doc.start!r} does not exist")
        self.check_messages()
        self.check_regions()
        for node_id, node in doc.nodes.items():
            self.check_node(node_id, node)
        self.check_graph()
        return self.problems

    def check_messages(self) -> None:
        for key, translations in self.doc.messages.items():
            for language, config in self.doc.languages.items():
                value = translations.get(language)
                if value is None:
                    self.problem(["messages", key], f"message {key!r} has no {language!r} text")
                    continue
                audio = value.audio if isinstance(value, Message) else None
                if config.audio_only or audio:
                    self.check_audio(["messages", key, language], audio or f"{language}/{key}.wav")
        for language, config in self.doc.languages.items():
            if config.audio_only:
                for digit in "0123456789":
                    self.check_audio(["languages", language], f"{language}/digits/{digit}.wav")

    def check_audio(self, loc: list[Any], relative: str) -> None:
        if self.prompts_dir is None:
            return
        file = self.prompts_dir / relative
        if not file.is_file():
            self.problem(loc, f"prompt audio {relative} is missing from {self.prompts_dir} "
                              "(run `ivr prompts render`, or add the studio recording)")
        elif file.stat().st_size < 64:
            self.problem(loc, f"prompt audio {relative} is empty or not a playable file")

    def check_regions(self) -> None:
        seen_codes: dict[str, int] = {}
        seen_kato: set[str] = set()
        for index, region in enumerate(self.doc.regions):
            loc: list[Any] = ["regions", index]
            if region.code in seen_codes:
                self.problem(loc, f"region code {region.code} is used twice")
            seen_codes[region.code] = index
            if region.kato in seen_kato:
                self.problem(loc, f"KATO code {region.kato} is used twice")
            seen_kato.add(region.kato)
            for language, config in self.doc.languages.items():
                if language not in region.names:
                    self.problem(loc, f"region {region.code} has no {language!r} name")
                elif config.audio_only:
                    self.check_audio(loc, f"{language}/regions/{region.code}.wav")

    def check_say(self, loc: list[Any], items: list[SayItem]) -> None:
        for index, item in enumerate(items):
            if isinstance(item, CaseStatusRef):
                for status in CASE_STATUSES:
                    if f"case_status_{status}" not in self.doc.messages:
                        self.problem([*loc, index], f"case_status needs a message case_status_{status}")
            key = item if isinstance(item, str) else getattr(item, "message", None)
            if key is not None and key not in self.doc.messages:
                self.problem([*loc, index], f"unknown message {key!r}")
            if isinstance(item, MessageRef) and item.language and item.language not in self.doc.languages:
                self.problem([*loc, index], f"language {item.language!r} is not enabled")

    def check_target(self, loc: list[Any], target: str) -> None:
        if target not in self.doc.nodes:
            self.problem(loc, f"goes to unknown node {target!r}")

    def check_set(self, loc: list[Any], values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            if name not in SETTABLE:
                self.problem([*loc, name], f"cannot set {name!r}; settable: {', '.join(SETTABLE)}")
            elif name == "language" and value not in self.doc.languages:
                self.problem([*loc, name], f"language {value!r} is not enabled")
            elif name in ("anonymous", "urgent") and not isinstance(value, bool):
                self.problem([*loc, name], f"{name} must be true or false")
            elif name == "contact" and value not in ("caller", None):
                self.problem([*loc, name], "contact can only be set to caller (the calling number)")

    def check_choice(self, loc: list[Any], choice: Choice) -> None:
        self.check_target([*loc, "goto"], choice.goto)
        self.check_set([*loc, "set"], choice.set)
        for language in choice.words:
            if language not in self.doc.languages:
                self.problem([*loc, "words", language], f"language {language!r} is not enabled")

    def check_node(self, node_id: str, node: Node) -> None:
        loc: list[Any] = ["nodes", node_id]
        if isinstance(node, LookupNode):
            expected = LOOKUP_OUTCOMES[node.op]
            for outcome, target in node.outcomes.items():
                if outcome not in expected:
                    self.problem([*loc, "outcomes", outcome],
                                 f"{node.op} has no outcome {outcome!r}; it has {', '.join(expected)}")
                self.check_target([*loc, "outcomes", outcome], target)
            for outcome in expected:
                if outcome not in node.outcomes:
                    self.problem([*loc, "outcomes"], f"say where outcome {outcome!r} of {node.op} goes")
        for name in ("say", "reprompt", "no_input", "invalid", "too_short", "list_intro", "confirm"):
            if getattr(node, name, None) is not None:
                self.check_say([*loc, name], getattr(node, name))
        for name in ("next", "answered", "goto"):
            if hasattr(node, name):
                self.check_target([*loc, name], getattr(node, name))
        if isinstance(node, SayNode) and node.no_reference is not None:
            self.check_target([*loc, "no_reference"], node.no_reference)
        if hasattr(node, "after_retries"):
            self.check_choice([*loc, "after_retries"], node.after_retries)
        if isinstance(node, SetNode | DialNode):
            self.check_set([*loc, "set"], node.set)
        self.check_consent(loc, node)
        if isinstance(node, MenuNode):
            if not node.options:
                self.problem([*loc, "options"], "a menu needs at least one option")
            if len(node.options) > MAX_MENU_OPTIONS:
                self.problem([*loc, "options"], f"{len(node.options)} options is too many "
                             "to remember; split the menu", severity="warning")
            for key, choice in node.options.items():
                if len(key) != 1 or key not in DTMF_KEYS:
                    self.problem([*loc, "options", key], f"option {key!r} is not one keypad key")
                self.check_choice([*loc, "options", key], choice)
            if node.speech and not any(c.words for c in node.options.values()):
                self.problem([*loc, "speech"], "speech is on but no option lists words")
        if isinstance(node, DigitsNode):
            if node.min_digits > node.max_digits:
                self.problem([*loc, "min_digits"], "min_digits is larger than max_digits")
            if node.pattern is not None:
                try:
                    re.compile(node.pattern)
                except re.error as exc:
                    self.problem([*loc, "pattern"], f"pattern is not a valid regular expression: {exc}")
        if isinstance(node, RegionNode) and node.list_key != "*":
            self.problem([*loc, "list_key"], f"list_key {node.list_key!r} must be * (digits are region codes, "
                         "# ends the input)")
        if isinstance(node, MenuNode) and "#" in node.options:
            self.problem([*loc, "options", "#"], "# cannot be a menu option: Twilio treats it as the end of input")
        if isinstance(node, LookupNode) and node.say:
            # Everything else plays inside a Gather (a key cuts it short); a lookup's own prompts cannot.
            self.problem([*loc, "say"], "a caller cannot skip this prompt (a lookup plays it outside any "
                         "Gather); say it in the node the lookup leads to", severity="warning")
        if isinstance(node, DialNode) and node.number not in self.doc.numbers:
            self.problem([*loc, "number"], f"number {node.number!r} is not under numbers:")

    def check_consent(self, loc: list[Any], node: Node) -> None:
        """Only a key leaves a contact: silence, failed answers, speech and passing through never do."""
        if hasattr(node, "after_retries"):
            values = node.after_retries.set
            if values.get("contact") == "caller":
                self.problem([*loc, "after_retries", "set", "contact"],
                             "after_retries leaves a contact: silence or failed answers would count as consent; "
                             "they must end anonymous")
            if values.get("anonymous") is False:
                self.problem([*loc, "after_retries", "set", "anonymous"],
                             "after_retries names the caller: silence or failed answers would count as consent; "
                             "they must end anonymous")
        if isinstance(node, SetNode | DialNode):
            for name, value in node.set.items():
                if (name == "contact" and value == "caller") or (name == "anonymous" and value is False):
                    self.problem([*loc, "set", name],
                                 f"{node.kind} sets {name} with no key pressed: consent to leave a contact "
                                 "needs a keypress (set it in a menu option)")
        if isinstance(node, MenuNode):
            for key, choice in node.options.items():
                if choice.set.get("contact") == "caller" and choice.words:
                    self.problem([*loc, "options", key, "set", "contact"],
                                 f"option {key!r} leaves a contact on a spoken answer alone: consent needs a "
                                 "keypress (speech may lead to this menu, its key confirms)")

    def check_graph(self) -> None:
        nodes = self.doc.nodes
        if self.doc.start not in nodes:
            return
        edges = {node_id: [t for t in _targets(node) if t in nodes] for node_id, node in nodes.items()}
        reachable = _walk(self.doc.start, edges)
        for node_id in nodes:
            if node_id not in reachable:
                self.problem(["nodes", node_id], "unreachable: no path from start leads here")
        reverse: dict[str, list[str]] = {n: [] for n in nodes}
        for source, targets in edges.items():
            for target in targets:
                reverse[target].append(source)
        goals = [n for n, node in nodes.items() if node.kind in ("record", "hangup")]
        finishing: set[str] = set()
        for goal in goals:
            finishing |= _walk(goal, reverse)
        for node_id in reachable - finishing:
            self.problem(["nodes", node_id], "dead end: no path from here reaches a record or a hangup")
        # Nodes that never wait would spin forever within one webhook.
        def waits(node: Node) -> bool:
            # A dial with no number configured goes straight on, like a say.
            if isinstance(node, DialNode):
                return bool(self.doc.numbers.get(node.number))
            return node.kind in WAITING_KINDS

        instant = {n: [t for t in edges[n] if not waits(nodes[t])] for n, node in nodes.items() if not waits(node)}
        for node_id in instant:
            if _in_cycle(node_id, instant):
                self.problem(["nodes", node_id], "loops back to itself without waiting for the caller")


def _targets(node: Node) -> Iterator[str]:
    for name in ("next", "answered", "goto"):
        if hasattr(node, name):
            yield getattr(node, name)
    if hasattr(node, "after_retries"):
        yield node.after_retries.goto
    if isinstance(node, SayNode) and node.no_reference is not None:
        yield node.no_reference
    if isinstance(node, MenuNode):
        for choice in node.options.values():
            yield choice.goto
    if isinstance(node, LookupNode):
        yield from node.outcomes.values()


def _walk(start: str, edges: Mapping[str, list[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in edges.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _in_cycle(start: str, edges: Mapping[str, list[str]]) -> bool:
    todo, seen = list(edges.get(start, [])), set()
    while todo:
        current = todo.pop()
        if current == start:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(edges.get(current, []))
    return False
