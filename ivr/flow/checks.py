"""The checks pydantic cannot make: references, reachability, translations, audio, patterns, consent."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ivr.flow.model import (
    CASE_STATUSES,
    DTMF_KEYS,
    LOOKUP_OUTCOMES,
    MAX_MENU_OPTIONS,
    OPTIONAL_OUTCOMES,
    SETTABLE,
    WAITING_KINDS,
    CaseStatusRef,
    Choice,
    DialNode,
    DigitsNode,
    FlowDocument,
    LookupNode,
    MenuNode,
    Message,
    MessageRef,
    Node,
    RegionNode,
    SayItem,
    SayNode,
    SetNode,
)
from ivr.flow.problems import FlowProblem
from ivr.flow.rota import ZONE, describe_gaps, gaps
from ivr.flow.yaml_lines import Located


class Checker:
    """Checks what pydantic cannot: references, reachability, translations, patterns."""

    def __init__(self, doc: FlowDocument, located: Located, path: str, prompts_dir: Path | None):
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
        self.check_rotas()
        return self.problems

    def check_rotas(self) -> None:
        """Say which hours of the week nobody on a dialled rota is on duty: those callers record instead."""
        dialled = {node.number for node in self.doc.nodes.values() if isinstance(node, DialNode)}
        for name in sorted(dialled & set(self.doc.numbers)):
            rota = self.doc.numbers[name]
            if not rota:
                self.problem(["numbers", name], f"numbers.{name}: nobody is on duty at any hour; callers who "
                             "ask for the duty officer go straight to an urgent recording", severity="warning")
            elif missing := gaps(rota):
                self.problem(["numbers", name], f"numbers.{name}: nobody is on duty {describe_gaps(missing)} "
                             f"({ZONE.key} time); callers then go straight to an urgent recording",
                             severity="warning")

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
            elif name in ("anonymous", "urgent", "reply") and not isinstance(value, bool):
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
                if outcome not in expected and outcome not in OPTIONAL_OUTCOMES.get(node.op, ()):
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
        if isinstance(node, DialNode) and node.voicemail is not None:
            self.check_target([*loc, "voicemail"], node.voicemail)

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
            # A rota with hours nobody is on duty goes straight on at those hours.
            if isinstance(node, DialNode):
                rota = self.doc.numbers.get(node.number) or []
                return bool(rota) and not gaps(rota)
            return node.kind in WAITING_KINDS

        instant = {n: [t for t in edges[n] if not waits(nodes[t])] for n, node in nodes.items() if not waits(node)}
        for node_id in instant:
            if _in_cycle(node_id, instant):
                self.problem(["nodes", node_id], "loops back to itself without waiting for the caller")


def _targets(node: Node) -> Iterator[str]:
    for name in ("next", "answered", "goto"):
        if hasattr(node, name):
            yield getattr(node, name)
    if isinstance(node, DialNode) and node.voicemail is not None:
        yield node.voicemail
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
