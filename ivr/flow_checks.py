"""What `ivr flow check` and the admin pages report: each problem with file, line, node and a fix.

Loading the flow (ivr.flow.loading) finds the problems; this module places them (prompt files are traced back to
the message or region that needs them), sorts them into kinds, and adds a plain-language fix
for the admin, who edits YAML but is not a programmer. It also checks what only shows across
files: the lines file, two lines' flows sharing a name, two flows wanting different words in
the same placeholder audio file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from ivr.flow import model as flow_model
from ivr.flow.catalog import LINES_FILE, LinesConfig, lines_path_for, load_lines
from ivr.flow.loading import load_flow
from ivr.flow.model import Flow
from ivr.flow.problems import FlowError, FlowProblem
from ivr.flow.rota import Shift
from ivr.prompts import PromptIssue, check_prompts, prompt_text

Severity = Literal["error", "warning"]
LANGUAGE_NAMES = {"kk": "Kazakh", "ru": "Russian", "en": "English"}


@dataclass(frozen=True)
class Finding:
    """One problem as the admin sees it: where, what, and how to fix it."""

    file: str
    line: int | None
    node: str | None
    severity: Severity
    kind: str
    message: str
    fix: str

    @property
    def where(self) -> str:
        """`file:line`, or the file alone."""
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        node = f" [node {self.node}]" if self.node else ""
        return f"{self.where}:{node} {self.severity}: {self.message}\n    fix: {self.fix}"

    def to_json(self) -> dict[str, Any]:
        """The finding for `--json` output."""
        return asdict(self)


@dataclass(frozen=True)
class CheckReport:
    """Everything one check found, and the flows that loaded (by line name)."""

    files: tuple[str, ...]
    findings: tuple[Finding, ...]
    flows: dict[str, Flow] = field(default_factory=dict)
    lines: LinesConfig | None = None

    @property
    def errors(self) -> list[Finding]:
        """Problems that stop a file from serving calls."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Problems worth fixing that do not stop the line."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def is_ok(self) -> bool:
        """True when nothing stops the files from serving calls."""
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        """The report for `--json` output (for the agency's CI)."""
        return {
            "ok": self.is_ok,
            "files": list(self.files),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "flows": {name: {"file": flow.path, "version": flow.version, "nodes": len(flow.doc.nodes)}
                      for name, flow in self.flows.items()},
            "problems": [f.to_json() for f in self.findings],
        }


# --------------------------------------------------------------------------- checking


def check_config(path: Path, prompts_dir: Path | None, *, check_audio: bool = True) -> CheckReport:
    """Check a flow file (with its lines file, if one lists it) or a lines file and every flow it names."""
    path = Path(path)
    findings: list[Finding] = []
    files: list[str] = []
    config: LinesConfig | None = None
    try:
        lines_path = lines_path_for(path)
    except FlowError as exc:  # the lines file next to the flow is broken
        lines_path = None
        files.append(str(path.parent / LINES_FILE))
        findings += _findings(exc.problems, _read(path.parent / LINES_FILE))
    targets: list[tuple[str | None, Path]] = []
    if lines_path is not None:
        files.append(str(lines_path))
        try:
            config = load_lines(lines_path)
        except FlowError as exc:
            findings += _findings(exc.problems, _read(lines_path))
        else:
            findings += _findings(config.warnings, _read(lines_path))
            targets = [(line.name, line.flow_path) for line in config.lines]
    elif path.name != LINES_FILE:
        targets = [(None, path)]

    flows: dict[str, Flow] = {}
    loaded: dict[Path, Flow] = {}
    for line_name, flow_path in targets:
        if flow_path in loaded:
            flows[str(line_name)] = loaded[flow_path]
            continue
        files.append(str(flow_path))
        text = _read(flow_path)
        try:
            flow = load_flow(flow_path, prompts_dir=prompts_dir if check_audio else None)
        except FlowError as exc:
            findings += _findings(exc.problems, text)
            continue
        loaded[flow_path] = flow
        flows[line_name or flow.name] = flow
        findings += _findings(flow.warnings, text)
    if check_audio and prompts_dir is not None and loaded:
        findings += _prompt_findings(list(loaded.values()), prompts_dir)
    findings += _cross_flow_findings(list(loaded.values()), config)
    return CheckReport(tuple(files), tuple(_unique(findings)), flows, config)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[Finding] = set()
    result = []
    for finding in findings:
        if finding not in seen:
            seen.add(finding)
            result.append(finding)
    return result


def _findings(problems: Iterable[FlowProblem], text: str) -> list[Finding]:
    raw = _safe_yaml(text)
    found = [describe(problem, raw) for problem in problems]
    if any(f.kind == "unknown-node" for f in found):
        # One misspelt node name cuts off everything behind it: say so rather than bury the cause.
        found = [replace(f, fix="probably follows from the unknown node name reported here: fix that first; "
                                "if it stays, " + f.fix)
                 if f.kind in ("unreachable-node", "dead-end") else f for f in found]
    return sorted(found, key=lambda f: (f.file, f.line or 0))


def _safe_yaml(text: str) -> dict[str, Any]:
    """The file as plain data, for suggestions only; {} when it does not parse."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def describe(problem: FlowProblem, raw: dict[str, Any] | None = None) -> Finding:
    """A problem loading found, as a finding: its kind, its node where the file shows one, and a fix."""
    raw = raw or {}
    kind, fix = classify(problem.message, raw)
    node = problem.node
    if node is None:
        key = _message_key(problem.message) or _message_of_audio(problem.message, raw)
        if key is not None:
            node = next(iter(_nodes_saying(raw, key)), None)
    return Finding(problem.path, problem.line, node, problem.severity, kind, problem.message, fix)


def _message_key(message: str) -> str | None:
    found = re.match(r"(?:\w+: )?message '([^']+)' has no", message) or re.search(r"messages\.(\w+)", message)
    return found.group(1) if found else None


def _message_of_audio(message: str, raw: dict[str, Any]) -> str | None:
    """The message a prompt file belongs to (`kk/intro.wav` -> `intro`, or a message naming it as `audio:`)."""
    found = re.match(r"prompt audio (\S+)", message)
    messages = raw.get("messages")
    if found is None or not isinstance(messages, dict):
        return None
    relative = found.group(1)
    for key, translations in messages.items():
        if not isinstance(translations, dict):
            continue
        for language, value in translations.items():
            audio = value.get("audio") if isinstance(value, dict) else None
            if audio == relative or (audio is None and f"{language}/{key}.wav" == relative):
                return str(key)
    return None


def _nodes_saying(raw: dict[str, Any], key: str) -> list[str]:
    """Nodes whose prompts use message `key`, in file order (best effort on raw YAML)."""
    nodes = raw.get("nodes")
    if not isinstance(nodes, dict):
        return []

    def mentions(value: Any) -> bool:
        if isinstance(value, str):
            return value == key
        if isinstance(value, dict):
            return value.get("message") == key or any(mentions(v) for k, v in value.items() if k != "goto")
        if isinstance(value, list):
            return any(mentions(v) for v in value)
        return False

    return [name for name, body in nodes.items()
            if isinstance(body, dict)
            and any(mentions(body.get(part)) for part in ("say", "no_input", "invalid", "too_short", "list_intro"))]


# --------------------------------------------------------------------------- kinds and fixes


def _suggest(name: str, candidates: Iterable[str]) -> str:
    # Never the name itself: a field of another kind of entry ("number" on a dial) is no fix here.
    close = difflib.get_close_matches(name, [str(c) for c in candidates if str(c) != name], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _names(raw: dict[str, Any], section: str) -> list[str]:
    value = raw.get(section)
    return [str(k) for k in value] if isinstance(value, dict) else []


def _field_names() -> set[str]:
    names: set[str] = set()
    for value in vars(flow_model).values():
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == flow_model.__name__:
            names |= set(value.model_fields)
    return names | set(Shift.model_fields)  # a duty rota's shifts (ivr/flow/rota.py)


_PROMPT_FIX = "run `ivr prompts render` to make a placeholder, or put the studio recording there"
_AUDIO_FIX = ("save it as a 16-bit PCM WAV file, best 8 kHz mono: "
              "`sox recording.wav -r 8000 -c 1 -b 16 fixed.wav`, then replace the file")
_KEY_FIX = "use a single keypad key: 0-9 or * (Twilio treats # as the end of input)"
_NUMBER_FIX = ('write the number as Twilio shows it, in quotes: a plus, the country code and the digits, '
               'e.g. "+77172141424"')

# (pattern on the loader's message, kind, fix); the fix may use the pattern's groups and {suggest}.
_RULES: tuple[tuple[str, str, str], ...] = (
    (r"not valid YAML", "yaml-syntax",
     "look at this line and the one above it: indent with spaces (never tabs), put a space after each colon, "
     "and put text containing ': ' or ' #' in quotes"),
    (r"the file must be a mapping", "not-a-mapping",
     "the file must start with `name: value` lines; check it is the right file and not empty"),
    (r"^cannot read", "unreadable", "check the file name and that the file exists"),
    (r"numbers\.(\w+): nobody is on duty", "duty-rota-gap",
     "add shifts under `numbers.{0}:` (days, hours in Almaty time, numbers) so someone is on duty then, "
     "or leave it: those callers record a report marked urgent (README: the duty officer rota)"),
    (r"duplicate key '([^']*)'", "duplicate-key",
     "{0!r} is written twice at the same level and only the second counts: delete one or merge them"),
    (r"unknown field '([^']*)'", "unknown-field",
     "{0!r} is not a setting here{suggest_field}; check its spelling and its indentation "
     "(a line indented too far belongs to the entry above)"),
    (r"missing field '([^']*)'", "missing-field", "add `{0}:` here; this entry cannot work without it"),
    (r"unknown kind", "unknown-kind", "set `kind:` to one of the kinds listed, spelt exactly so"),
    (r"a say item is", "invalid-say-item",
     "write a message name (e.g. `intro`) or one of the forms listed, e.g. `{{message: welcome, language: kk}}`"),
    (r"give voice and tts_language", "language-voice",
     "give the language a Twilio voice and tts_language (e.g. `voice: Polly.Tatyana`, `tts_language: ru-RU`), "
     "or write `audio_only: true` and provide its prompt audio"),
    (r"regions\.\d+\.code", "invalid-value", 'a region code is two digits in quotes, e.g. "07"'),
    (r"regions\.\d+\.kato", "invalid-value", 'a KATO code is nine digits in quotes, e.g. "710000000"'),
    (r"is not in languages", "language-not-enabled",
     "use a language listed under `languages:`, or add that language there"),
    (r"start node '([^']*)' does not exist", "unknown-node",
     "point `start:` at an existing node{suggest_node}"),
    (r"message '([^']*)' has no '(\w+)' text", "missing-translation",
     "add the {lang} text: under `messages:` → `{0}:` write `{1}: ...`; every message needs every language "
     "the line offers"),
    (r"region (\d+) has no '(\w+)' name", "missing-translation",
     "add the region's {lang} name under its `names:` (`{1}: ...`)"),
    (r"prompt audio (\S+) is missing", "prompt-missing", "{0} is needed: " + _PROMPT_FIX),
    (r"prompt audio (\S+) is empty or not a playable", "prompt-unplayable", _AUDIO_FIX),
    (r"(?:region|KATO) code \S+ is used twice", "duplicate-region",
     "each region needs its own code: change one of the two"),
    (r"case_status needs a message (\w+)", "unknown-message",
     "add a message {0!r} under `messages:` with a text in every language"),
    (r"unknown message '([^']*)'", "unknown-message",
     "fix the name{suggest_message}, or add a message {0!r} under `messages:` with a text in every language"),
    (r"language '([^']*)' is not enabled", "language-not-enabled",
     "use a language listed under `languages:` (kk, ru or en), or add it there"),
    (r"goes to unknown node '([^']*)'", "unknown-node",
     "fix the node name{suggest_node}, or add a node called {0!r} under `nodes:`"),
    (r"cannot set '|must be true or false|contact can only be set", "invalid-set",
     "`set:` can change only language (kk, ru, en), anonymous (true/false), urgent (true/false) "
     "and contact (caller)"),
    (r"consent", "assumed-consent",
     "only a key the caller presses may leave a contact: put `contact: caller` (or `anonymous: false`) in a "
     "menu option without `words:`, and let `after_retries`, set and dial nodes end with `anonymous: true`"),
    (r"needs at least one option", "empty-menu", "add at least one option: a key and the node it goes to"),
    (r"options is too many", "too-long-menu",
     "callers remember about five choices: split this menu into two, or drop options rarely chosen"),
    (r"is not one keypad key|list_key .* must be|cannot be a menu option", "invalid-key", _KEY_FIX),
    (r"speech is on but no option lists words", "speech-without-words",
     "give the options `words:` per language (what callers may say), or remove `speech: true`"),
    (r"min_digits is larger than max_digits", "invalid-value", "make min_digits at most max_digits"),
    (r"pattern is not a valid regular expression", "invalid-pattern",
     r"fix the pattern and keep it in single quotes, e.g. '^[78]?7\d{{9}}$' for a Kazakh mobile number, "
     "or remove `pattern:`"),
    (r"number '([^']*)' is not under numbers", "unknown-number",
     "add `{0}: \"+7...\"` under `numbers:` (or `\"\"` while there is nobody to transfer to)"),
    (r"has no outcome|say where outcome", "lookup-outcomes",
     "give the lookup a node for each of its outcomes, and only for those"),
    (r"^unreachable", "unreachable-node",
     "nothing leads here: point a menu option, `next:` or `goto:` at this node, or delete it"),
    (r"^dead end", "dead-end",
     "a caller here can never finish: make some path from this node reach a record or a hangup node"),
    (r"loops back to itself without waiting", "instant-loop",
     "these nodes would repeat forever without letting the caller answer: put a menu in the loop"),
    (r"is not an E\.164 number|put the number in quotes", "invalid-number", _NUMBER_FIX),
    (r"is already the number of line", "duplicate-number", "a number reaches one line only: remove it from one"),
    (r"default line '([^']*)' is not under lines", "unknown-line",
     "set `default:` to one of the line names under `lines:`{suggest_line}"),
    (r"flow file (\S+) does not exist", "missing-flow-file",
     "create the file or fix its name; it is looked for in the folder of lines.yaml"),
    (r"has no numbers, so no call can reach it", "unreachable-line", "add the line's numbers, or remove the line"),
    (r"^line name", "invalid-name", "rename the line: lower-case letters, digits, - or _"),
    (r"list at least one line", "missing-field", "add a line under `lines:` (see the comments in lines.yaml)"),
    (r"are both named", "duplicate-flow-name",
     "give each flow file its own `name:` at the top, so calls and figures can be told apart"),
    (r"different words", "prompt-conflict",
     "give one of the two messages its own `audio:` file, or make both texts the same"),
    (r"^missing; ", "prompt-missing", _PROMPT_FIX),
    (r"not a PCM WAV|has no audio|is empty: not playable|^cannot be read", "prompt-unplayable", _AUDIO_FIX),
    (r"^stale", "prompt-stale",
     "run `ivr prompts render` so the placeholder says the new text"),
    (r"not used by the flow", "prompt-unused", "delete the file if no line needs it any more"),
    (r"espeak-ng placeholders", "prompt-placeholder",
     "record each text in a studio and save it under the same name (`ivr prompts render` never overwrites it)"),
    (r"phone line carries 8 kHz mono", "prompt-format",
     "optional: convert it with the sox command in the message to make it smaller"),
    (r"should be|must be|is not allowed", "invalid-value",
     "use a value of the kind the message asks for (a number in the allowed range, true/false, or one of "
     "the listed words)"),
)


def classify(message: str, raw: dict[str, Any] | None = None) -> tuple[str, str]:
    """The kind of a problem and a plain-language fix for it."""
    raw = raw or {}
    for pattern, kind, template in _RULES:
        found = re.search(pattern, message)
        if found is None:
            continue
        groups = found.groups()
        first = groups[0] if groups else ""
        language = next((g for g in groups if g in LANGUAGE_NAMES), "")
        fix = template.format(
            *groups,
            lang=LANGUAGE_NAMES.get(language, language),
            suggest_node=_suggest(first, _names(raw, "nodes")),
            suggest_message=_suggest(first, _names(raw, "messages")),
            suggest_line=_suggest(first, _names(raw, "lines")),
            suggest_field=_suggest(first, _field_names()),
        )
        return kind, fix
    return "other", "compare this place with the same place in the flow as shipped, or ask the line's developers"


# --------------------------------------------------------------------------- prompt audio


def _prompt_findings(flows: list[Flow], prompts_dir: Path) -> list[Finding]:
    findings: list[Finding] = []
    for flow in flows:
        for issue in check_prompts(flow, prompts_dir):
            if "not used by the flow" in issue.problem and any(prompt_text(f, issue.path) for f in flows):
                continue  # another line's flow plays it
            findings.append(_prompt_finding(flow, issue, prompts_dir))
    return findings


def _prompt_finding(flow: Flow, issue: PromptIssue, prompts_dir: Path) -> Finding:
    loc, node = _prompt_location(flow, issue.path)
    lines = _yaml_lines(flow.source)
    line = None
    for depth in range(len(loc), 0, -1):
        line = lines.get(tuple(loc[:depth]))
        if line:
            break
    file = flow.path if loc else str(prompts_dir / issue.path)
    kind, fix = classify(issue.problem)
    message = f"prompt audio {issue.path}: {issue.problem}"
    return Finding(file, line, node, issue.severity, kind, message, fix)


def _prompt_location(flow: Flow, relative: str) -> tuple[list[Any], str | None]:
    """Where in the flow a prompt file is asked for, and the first node that plays it."""
    parts = relative.split("/")
    language = parts[0]
    if len(parts) == 3 and parts[1] == "digits":
        return ["languages", language], None
    if len(parts) == 3 and parts[1] == "regions":
        code = parts[2].removesuffix(".wav")
        index = next((i for i, r in enumerate(flow.doc.regions) if r.code == code), None)
        return (["regions", index] if index is not None else ["regions"]), None
    for key, translations in flow.doc.messages.items():
        for lang, value in translations.items():
            audio = getattr(value, "audio", None)
            if audio == relative or (audio is None and f"{lang}/{key}.wav" == relative):
                raw = _safe_yaml(flow.source)
                node = next(iter(_nodes_saying(raw, key)), None)
                return ["messages", key, lang], node
    return [], None


def _yaml_lines(text: str) -> dict[tuple[Any, ...], int]:
    """The line of every mapping key and list item, by path (`("messages", "intro", "kk")`)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    found: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                found[(*path, key_node.value)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key_node.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                found[(*path, index)] = item.start_mark.line + 1
                walk(item, (*path, index))

    if root is not None:
        walk(root, ())
    return found


# --------------------------------------------------------------------------- across files


def _cross_flow_findings(flows: list[Flow], config: LinesConfig | None) -> list[Finding]:
    findings: list[Finding] = []
    by_name: dict[str, Flow] = {}
    for flow in flows:
        other = by_name.get(flow.name)
        if other is not None:
            message = f"{flow.path} and {other.path} are both named {flow.name!r}"
            kind, fix = classify(message)
            line = _yaml_lines(flow.source).get(("name",), 1)
            findings.append(Finding(flow.path, line, None, "error", kind, message, fix))
        by_name.setdefault(flow.name, flow)
    # Placeholders are rendered per file: two flows must not want different words in one file.
    for index, flow in enumerate(flows):
        for other in flows[index + 1:]:
            for relative, words in _placeholders(flow).items():
                theirs = _placeholders(other).get(relative)
                if theirs is not None and theirs != words:
                    message = (f"prompt audio {relative} would need different words for {flow.name!r} "
                               f"({words!r}) and {other.name!r} ({theirs!r})")
                    kind, fix = classify(message)
                    loc, node = _prompt_location(other, relative)
                    line = _yaml_lines(other.source).get(tuple(loc))
                    findings.append(Finding(other.path, line, node, "error", kind, message, fix))
    return findings


def _placeholders(flow: Flow) -> dict[str, str]:
    """Audio files rendered from the flow's own text (not studio `audio:` files), with their words."""
    found: dict[str, str] = {}
    for language, config in flow.doc.languages.items():
        if not config.audio_only:
            continue
        for key in flow.doc.messages:
            if flow.message(key, language).audio is None:
                found[f"{language}/{key}.wav"] = flow.message(key, language).text
        for region in flow.doc.regions:
            found[f"{language}/regions/{region.code}.wav"] = region.names[language]
    return found
