"""flow.yaml checks: every problem refused with its file, line and node, in words an admin can act on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.flow.loading import load_flow, parse_flow
from ivr.flow.model import LOOKUP_OUTCOMES, MAX_MENU_OPTIONS, Flow, normalize_words
from ivr.flow.problems import FlowError, FlowProblem
from tests.flow.conftest import FLOW_PATH, PROMPTS_DIR

LANGUAGES = """\
languages:
  ru: {voice: Polly.Tatyana, tts_language: ru-RU, speech_language: ru-RU}
  en: {voice: Polly.Joanna, tts_language: en-US, speech_language: en-US}
"""
NODES = """\
nodes:
  ask:
    kind: menu
    say: [hello]
    options:
      "1": {goto: talk}
      "2": {goto: bye}
    after_retries: {goto: bye}
  talk:
    kind: record
    after_retries: {goto: bye}
    next: bye
  bye:
    kind: hangup
    say: [hello]
"""
MESSAGES = """\
messages:
  hello: {ru: Здравствуйте, en: Hello}
  no_input: {ru: Не слышно, en: Nothing heard}
  invalid_input: {ru: Нет такого, en: Not a choice}
  too_short: {ru: Коротко, en: Too short}
"""
REGIONS = """\
regions:
  - {code: "01", kato: "710000000", names: {ru: Астана, en: Astana}}
"""


def flow_text(
    nodes: str = NODES,
    *,
    languages: str = LANGUAGES,
    default: str = "ru",
    numbers: str = 'numbers: {officer: "+77172000000"}\n',
    start: str = "ask",
    messages: str = MESSAGES,
    regions: str = REGIONS,
) -> str:
    """A small valid flow.yaml, with any one section swapped for a broken one."""
    return f"name: mini\n{languages}default_language: {default}\n{numbers}start: {start}\n{nodes}{messages}{regions}"


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line containing `needle`."""
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(lines) >= occurrence, f"{needle!r} is not in the flow {occurrence} time(s)"
    return lines[occurrence - 1]


def problems_of(text: str, prompts_dir: Path | None = None) -> list[FlowProblem]:
    """The problems a refused flow reports (fails the test if the flow loads)."""
    with pytest.raises(FlowError) as caught:
        parse_flow(text, "flow.yaml", prompts_dir=prompts_dir)
    assert caught.value.problems, "FlowError without problems"
    assert all(p.path == "flow.yaml" for p in caught.value.problems)
    return caught.value.problems


def only_problem(text: str, prompts_dir: Path | None = None) -> FlowProblem:
    """The single problem a flow with one mistake reports."""
    problems = problems_of(text, prompts_dir)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def find(problems: list[FlowProblem], pattern: str) -> FlowProblem:
    """The one problem whose message matches `pattern`."""
    hits = [p for p in problems if re.search(pattern, p.message)]
    assert len(hits) == 1, f"{pattern!r} in:\n" + "\n".join(map(str, problems))
    return hits[0]


# --------------------------------------------------------------------------- the real flow

NOBODY_ON_DUTY = ("numbers.duty_officer: nobody is on duty at any hour; callers who ask for the duty officer "
                  "go straight to an urgent recording")


def test_real_flow_loads_without_prompts_dir() -> None:
    flow = load_flow(FLOW_PATH)
    assert flow.name == "public"
    assert flow.languages == ("kk", "ru", "en")
    assert [w.message for w in flow.warnings] == [NOBODY_ON_DUTY]  # shipped without officers' numbers
    assert len(flow.doc.regions) == 20
    assert sorted(flow.regions_by_code) == [f"{n:02d}" for n in range(1, 21)]


def test_real_flow_loads_with_its_kazakh_prompt_audio() -> None:
    if not (PROMPTS_DIR / "kk" / "welcome.wav").is_file():
        pytest.skip("config/prompts/kk not rendered yet (`ivr prompts render`)")
    flow = load_flow(FLOW_PATH, prompts_dir=PROMPTS_DIR)
    assert [w.message for w in flow.warnings] == [NOBODY_ON_DUTY]
    assert flow.version == load_flow(FLOW_PATH).version


def test_mini_flow_is_valid() -> None:
    flow = parse_flow(flow_text(), "flow.yaml")
    assert flow.warnings == ()
    assert flow.node("ask").kind == "menu"


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(FlowError) as caught:
        load_flow(missing)
    assert caught.value.first.path == str(missing)
    assert "cannot read" in caught.value.first.message


# --------------------------------------------------------------------------- YAML


@pytest.mark.parametrize(
    ("text", "line", "detail"),
    [
        ("name: t\nlanguages:\n\tru: {}\n", 3, "'\\t'"),
        ("name: t\nstart: a\n  nodes: x\n", 3, "mapping values are not allowed"),
        ("name: t\nstart: a\nnodes: [a, b\nmessages: {}\n", 4, "expected ',' or ']'"),
    ],
)
def test_yaml_syntax_error_names_its_line(text: str, line: int, detail: str) -> None:
    problem = only_problem(text)
    assert problem.line == line
    assert problem.message.startswith("not valid YAML: ")
    assert detail in problem.message
    assert str(problem).startswith(f"flow.yaml:{line}: error: not valid YAML")


def test_file_that_is_not_a_mapping_is_refused() -> None:
    problem = only_problem("- just\n- a list\n")
    assert problem.line == 1
    assert "must be a mapping" in problem.message


def test_duplicate_top_level_key_points_at_the_second() -> None:
    text = flow_text() + "default_language: en\n"
    problem = only_problem(text)
    assert problem.line == line_of(text, "default_language:", 2) == len(text.splitlines())
    assert problem.message == "duplicate key 'default_language': the second silently replaces the first"


def test_duplicate_key_inside_a_node_points_at_the_second() -> None:
    nodes = NODES.replace("    next: bye\n", "    next: bye\n    next: ask\n")
    text = flow_text(nodes)
    problem = only_problem(text)
    assert problem.line == line_of(text, "next: ask")
    assert "duplicate key 'next'" in problem.message
    assert "silently replaces" in problem.message


def test_duplicate_menu_key_counts_1_and_quoted_1_as_the_same() -> None:
    nodes = NODES.replace('      "2": {goto: bye}\n', '      "2": {goto: bye}\n      1: {goto: talk}\n')
    text = flow_text(nodes)
    problem = only_problem(text)
    assert problem.line == line_of(text, "      1: {goto: talk}")  # the unquoted 1 is the second
    assert "duplicate key '1'" in problem.message


# --------------------------------------------------------------------------- shape (pydantic)


def test_unknown_field_is_called_a_typo_with_its_line_and_node() -> None:
    text = flow_text(NODES.replace("    next: bye\n", "    nxet: bye\n"))
    problems = problems_of(text)
    typo = find(problems, "nxet")
    assert typo.message == "nodes.talk.nxet: unknown field 'nxet' (a typo?)"
    assert typo.line == line_of(text, "nxet:")
    assert typo.node == "talk"
    missing = find(problems, "missing field 'next'")
    assert missing.node == "talk"
    assert missing.line == line_of(text, "  talk:")


def test_unknown_top_level_field_has_no_node() -> None:
    text = flow_text() + "langauges: {}\n"
    problem = only_problem(text)
    assert problem.message == "langauges: unknown field 'langauges' (a typo?)"
    assert problem.line == line_of(text, "langauges:")
    assert problem.node is None


def test_unknown_kind_lists_the_kinds() -> None:
    text = flow_text(NODES.replace("kind: hangup", "kind: hang_up"))
    problem = only_problem(text)
    assert problem.node == "bye"
    assert problem.line == line_of(text, "  bye:")
    assert "unknown kind" in problem.message
    for kind in ("say", "menu", "digits", "region", "record", "dial", "set", "hangup", "lookup"):
        assert kind in problem.message


def test_missing_kind_names_the_kind_field() -> None:
    text = flow_text(NODES.replace("    kind: hangup\n", ""))
    problem = only_problem(text)
    assert problem.node == "bye"
    assert problem.line == line_of(text, "  bye:")
    assert "'kind'" in problem.message


def test_missing_field_is_named_with_its_node() -> None:
    text = flow_text(NODES.replace("    after_retries: {goto: bye}\n    next: bye\n", "    next: bye\n"))
    problem = only_problem(text)
    assert problem.message == "nodes.talk.after_retries: missing field 'after_retries'"
    assert problem.node == "talk"
    assert problem.line == line_of(text, "  talk:")


def test_missing_top_level_field_is_named() -> None:
    text = flow_text().replace("start: ask\n", "")
    problem = only_problem(text)
    assert problem.message == "start: missing field 'start'"
    assert problem.node is None


def test_out_of_range_number_names_the_field() -> None:
    text = flow_text(NODES.replace("    next: bye\n", "    next: bye\n    max_length_s: 5\n"))
    problem = only_problem(text)
    assert problem.message.startswith("nodes.talk.max_length_s: ")
    assert "10" in problem.message
    assert problem.line == line_of(text, "max_length_s: 5")
    assert problem.node == "talk"


def test_language_without_voice_or_audio_is_refused() -> None:
    text = flow_text(languages=LANGUAGES.replace("voice: Polly.Joanna, ", ""))
    problem = only_problem(text)
    assert "give voice and tts_language, or audio_only: true" in problem.message
    assert problem.line == line_of(text, "  en:")


def test_unknown_language_code_is_refused_with_the_allowed_ones() -> None:
    text = flow_text(messages=MESSAGES.replace("en: Hello}", "en: Hello, de: Hallo}"))
    problem = only_problem(text)
    assert problem.message.startswith("messages.hello.de: 'de' is not allowed")
    assert "'kk', 'ru' or 'en'" in problem.message
    assert problem.line == line_of(text, "de: Hallo")


def test_mistake_in_a_say_item_is_reported_once() -> None:
    text = flow_text(NODES.replace("say: [hello]\n    options", "say: [{message: hello, language: de}]\n    options"))
    problem = only_problem(text)
    assert problem.message.startswith("nodes.ask.say.0.language: 'de' is not allowed")
    assert problem.node == "ask"
    assert problem.line == line_of(text, "language: de")


@pytest.mark.parametrize(
    ("item", "detail"),
    [
        ("{digits: phone}", "nodes.ask.say.0.digits: 'phone' is not allowed"),
        ("{recording: false}", "nodes.ask.say.0.recording: False is not allowed"),
        ("{message: hello, digits: pin}", "nodes.ask.say.0.digits: unknown field 'digits' (a typo?)"),
        ("{mesage: hello}", "nodes.ask.say.0: a say item is a message name, or one of"),
        ("3", "nodes.ask.say.0: a say item is a message name, or one of"),
    ],
)
def test_each_say_item_mistake_is_one_problem(item: str, detail: str) -> None:
    text = flow_text(NODES.replace("say: [hello]\n    options", f"say: [{item}]\n    options"))
    problem = only_problem(text)
    assert problem.message.startswith(detail), problem.message
    assert problem.node == "ask"
    assert problem.line == line_of(text, f"say: [{item}]")


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"1": {goto: talk}', '"1": {goto: tlak}'),
        ("after_retries: {goto: bye}\n  talk", "after_retries: {goto: tlak}\n  talk"),
        ("    next: bye\n", "    next: tlak\n"),
    ],
    ids=["options", "after_retries", "next"],
)
def test_unknown_node_reference_is_refused(old: str, new: str) -> None:
    text = flow_text(NODES.replace(old, new, 1))
    problem = find(problems_of(text), "tlak")
    assert problem.message == "goes to unknown node 'tlak'"
    assert problem.line == line_of(text, "tlak")
    assert problem.node in ("ask", "talk")


def test_dial_answered_and_set_goto_must_name_nodes() -> None:
    nodes = NODES.replace('"2": {goto: bye}', '"2": {goto: call}') + (
        "  call:\n"
        "    kind: dial\n"
        "    number: officer\n"
        "    answered: byee\n"
        "    next: mark\n"
        "  mark:\n"
        "    kind: set\n"
        "    set: {urgent: true}\n"
        "    goto: tallk\n"
    )
    text = flow_text(nodes)
    problems = problems_of(text)
    answered = find(problems, "'byee'")
    assert (answered.node, answered.line) == ("call", line_of(text, "answered: byee"))
    goto = find(problems, "'tallk'")
    assert (goto.node, goto.line) == ("mark", line_of(text, "goto: tallk"))


def test_start_must_name_a_node() -> None:
    text = flow_text(start="begin")
    problem = find(problems_of(text), "start node")
    assert problem.message == "start node 'begin' does not exist"
    assert problem.line == line_of(text, "start: begin")


def test_unknown_message_is_named_with_its_node() -> None:
    text = flow_text(NODES.replace("    say: [hello]\n    options", "    say: [helo]\n    options"))
    problem = only_problem(text)
    assert problem.message == "unknown message 'helo'"
    assert problem.node == "ask"
    assert problem.line == line_of(text, "say: [helo]")


def test_default_no_input_message_must_exist() -> None:
    text = flow_text(messages=MESSAGES.replace("  no_input: {ru: Не слышно, en: Nothing heard}\n", ""))
    problems = problems_of(text)
    assert {p.node for p in problems} == {"ask", "talk"}
    assert all(p.message == "unknown message 'no_input'" for p in problems)


def test_message_missing_a_translation_names_the_language() -> None:
    text = flow_text(messages=MESSAGES.replace("hello: {ru: Здравствуйте, en: Hello}", "hello: {ru: Здравствуйте}"))
    problem = only_problem(text)
    assert problem.message == "message 'hello' has no 'en' text"
    assert problem.line == line_of(text, "hello: {ru:")
    assert problem.node is None


def test_translation_only_needed_for_enabled_languages() -> None:
    languages = "languages:\n  ru: {voice: Polly.Tatyana, tts_language: ru-RU}\n"
    text = flow_text(
        languages=languages,
        messages=MESSAGES.replace("hello: {ru: Здравствуйте, en: Hello}", "hello: {ru: Здравствуйте}"),
    )
    assert parse_flow(text).languages == ("ru",)


def test_default_language_must_be_enabled() -> None:
    text = flow_text(default="kk")
    problem = only_problem(text)
    assert problem.message == "'kk' is not in languages"
    assert problem.line == line_of(text, "default_language: kk")


# --------------------------------------------------------------------------- set and languages

RU_ONLY = "languages:\n  ru: {voice: Polly.Tatyana, tts_language: ru-RU, speech_language: ru-RU}\n"
RU_MESSAGES = """\
messages:
  hello: {ru: Здравствуйте}
  no_input: {ru: Не слышно}
  invalid_input: {ru: Нет такого}
  too_short: {ru: Коротко}
"""
RU_REGIONS = 'regions:\n  - {code: "01", kato: "710000000", names: {ru: Астана}}\n'


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ('"1": {goto: talk}', '"1": {goto: talk, set: {language: en}}', "language: en"),
        (
            "after_retries: {goto: bye}\n  talk",
            "after_retries: {goto: bye, set: {language: en}}\n  talk",
            "language: en",
        ),
        ('"1": {goto: talk}', '"1": {goto: talk, words: {en: [talk]}}', "words: {en"),
        ("say: [hello]\n    options", "say: [{message: hello, language: en}]\n    options", "language: en"),
    ],
)
def test_languages_named_in_a_node_must_be_enabled(old: str, new: str, needle: str) -> None:
    text = flow_text(NODES.replace(old, new, 1), languages=RU_ONLY, messages=RU_MESSAGES, regions=RU_REGIONS)
    problem = only_problem(text)
    assert problem.message == "language 'en' is not enabled"
    assert problem.node == "ask"
    assert problem.line == line_of(text, needle)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{colour: red}", "cannot set 'colour'; settable: language, anonymous, urgent, contact, reply"),
        ("{anonymous: maybe}", "anonymous must be true or false"),
        ("{urgent: 1}", "urgent must be true or false"),
        ('{contact: "+77010000000"}', "contact can only be set to caller (the calling number)"),
    ],
)
def test_set_refuses_unknown_names_and_values(value: str, message: str) -> None:
    text = flow_text(
        NODES.replace('"2": {goto: bye}', '"2": {goto: mark}') + f"  mark:\n    kind: set\n"
        f"    set: {value}\n    goto: bye\n"
    )
    problem = only_problem(text)
    assert problem.message == message
    assert problem.node == "mark"
    assert problem.line == line_of(text, f"set: {value}")


def test_set_accepts_every_settable_name() -> None:
    # A key confirms a contact (issue 10: consent is never assumed), so a keyed option may set them all.
    nodes = NODES.replace('"2": {goto: bye}',
                          '"2": {goto: bye, set: {language: en, anonymous: false, urgent: true, contact: caller}}')
    assert parse_flow(flow_text(nodes)).node("ask").kind == "menu"


# --------------------------------------------------------------------------- graph


def test_unreachable_node_is_named() -> None:
    text = flow_text(NODES + "  orphan:\n    kind: hangup\n")
    problem = only_problem(text)
    assert problem.message == "unreachable: no path from start leads here"
    assert problem.node == "orphan"
    assert problem.line == line_of(text, "  orphan:")


def test_dead_end_names_every_node_that_cannot_finish() -> None:
    nodes = """\
nodes:
  ask:
    kind: menu
    say: [hello]
    options:
      "1": {goto: again}
      "2": {goto: talk}
    after_retries: {goto: bye}
  again:
    kind: menu
    say: [hello]
    options:
      "1": {goto: again}
    after_retries: {goto: again}
  talk:
    kind: record
    after_retries: {goto: bye}
    next: bye
  bye:
    kind: hangup
"""
    text = flow_text(nodes)
    problem = only_problem(text)
    assert problem.message == "dead end: no path from here reaches a record or a hangup"
    assert problem.node == "again"
    assert problem.line == line_of(text, "  again:")


def test_say_and_set_loop_without_waiting_is_refused() -> None:
    nodes = NODES.replace('"2": {goto: bye}', '"2": {goto: spin}') + (
        "  spin:\n    kind: say\n    say: [hello]\n    next: turn\n"
        "  turn:\n    kind: set\n    set: {urgent: true}\n    goto: spin\n"
    )
    text = flow_text(nodes)
    problems = problems_of(text)
    loops = [p for p in problems if p.message == "loops back to itself without waiting for the caller"]
    assert {(p.node, p.line) for p in loops} == {
        ("spin", line_of(text, "  spin:")),
        ("turn", line_of(text, "  turn:")),
    }
    # A closed say/set loop cannot reach a hangup either.
    assert {p.node for p in problems if p.message.startswith("dead end")} == {"spin", "turn"}


def test_loop_broken_by_a_waiting_node_is_fine() -> None:
    nodes = NODES.replace('"2": {goto: bye}', '"2": {goto: spin}') + (
        "  spin:\n    kind: say\n    say: [hello]\n    next: ask\n"
    )
    assert parse_flow(flow_text(nodes)).node("spin").kind == "say"


SPIN_THROUGH_A_DIAL = NODES.replace('"2": {goto: bye}', '"2": {goto: spin}') + (
    "  spin:\n    kind: say\n    say: [hello]\n    next: call\n"
    "  call:\n    kind: dial\n    number: officer\n    answered: bye\n    next: spin\n"
)


def test_loop_through_a_dial_without_a_number_is_refused() -> None:
    text = flow_text(SPIN_THROUGH_A_DIAL, numbers='numbers: {officer: ""}\n')
    problems = problems_of(text)
    assert {(p.node, p.line) for p in problems} == {
        ("spin", line_of(text, "  spin:")),
        ("call", line_of(text, "  call:")),
    }
    assert all(p.message == "loops back to itself without waiting for the caller" for p in problems)


def test_loop_through_a_dial_with_a_number_waits_and_is_fine() -> None:
    flow = parse_flow(flow_text(SPIN_THROUGH_A_DIAL))
    assert flow.node("call").kind == "dial"


# --------------------------------------------------------------------------- node details


def test_bad_regex_in_pattern_is_explained() -> None:
    nodes = NODES.replace('"2": {goto: bye}', '"2": {goto: number}') + (
        "  number:\n"
        "    kind: digits\n"
        "    save_as: contact\n"
        "    pattern: '^[78?7\\d{9}$'\n"
        "    after_retries: {goto: bye}\n"
        "    next: bye\n"
    )
    text = flow_text(nodes)
    problem = only_problem(text)
    assert problem.message.startswith("pattern is not a valid regular expression: ")
    assert "unterminated character set" in problem.message
    assert problem.node == "number"
    assert problem.line == line_of(text, "pattern:")


def test_min_digits_above_max_digits_is_refused() -> None:
    nodes = NODES.replace('"2": {goto: bye}', '"2": {goto: number}') + (
        "  number:\n"
        "    kind: digits\n"
        "    save_as: contact\n"
        "    min_digits: 12\n"
        "    max_digits: 10\n"
        "    after_retries: {goto: bye}\n"
        "    next: bye\n"
    )
    text = flow_text(nodes)
    problem = only_problem(text)
    assert problem.message == "min_digits is larger than max_digits"
    assert problem.node == "number"
    assert problem.line == line_of(text, "min_digits: 12")


@pytest.mark.parametrize("key", ["12", "a", "+"])
def test_menu_option_must_be_one_keypad_key(key: str) -> None:
    text = flow_text(NODES.replace('"2": {goto: bye}', f'"{key}": {{goto: bye}}'))
    problem = only_problem(text)
    assert problem.message == f"option {key!r} is not one keypad key"
    assert problem.node == "ask"
    assert problem.line == line_of(text, f'"{key}": {{goto: bye}}')


def region_node(list_key: str | None) -> str:
    key = f'    list_key: "{list_key}"\n' if list_key is not None else ""
    return NODES.replace('"2": {goto: bye}', '"2": {goto: where}') + (
        f"  where:\n    kind: region\n{key}    after_retries: {{goto: bye}}\n    next: bye\n"
    )


@pytest.mark.parametrize("key", ["#", "0", "7", "**", ""])
def test_region_list_key_must_be_star(key: str) -> None:
    text = flow_text(region_node(key))
    problem = only_problem(text)
    assert problem.message == f"list_key {key!r} must be * (digits are region codes, # ends the input)"
    assert (problem.node, problem.line) == ("where", line_of(text, "list_key:"))


@pytest.mark.parametrize("key", ["*", None])
def test_region_list_key_star_or_left_out_is_star(key: str | None) -> None:
    assert parse_flow(flow_text(region_node(key))).node("where").list_key == "*"  # type: ignore[union-attr]


def test_hash_cannot_be_a_menu_option() -> None:
    text = flow_text(NODES.replace('"2": {goto: bye}', '"#": {goto: bye}'))
    problem = only_problem(text)
    assert problem.message == "# cannot be a menu option: Twilio treats it as the end of input"
    assert (problem.node, problem.line) == ("ask", line_of(text, '"#": {goto: bye}'))


def test_star_and_zero_are_menu_options() -> None:
    text = flow_text(NODES.replace('"2": {goto: bye}', '"*": {goto: bye}\n      "0": {goto: bye}'))
    assert set(parse_flow(text).node("ask").options) == {"1", "*", "0"}  # type: ignore[union-attr]


def test_menu_needs_an_option() -> None:
    nodes = (
        NODES.replace('      "1": {goto: talk}\n      "2": {goto: bye}\n', "")
        .replace("    options:\n", "    options: {}\n")
        .replace("after_retries: {goto: bye}\n  talk", "after_retries: {goto: talk}\n  talk")
    )
    text = flow_text(nodes)
    problem = only_problem(text)
    assert problem.message == "a menu needs at least one option"
    assert (problem.node, problem.line) == ("ask", line_of(text, "options: {}"))


def test_speech_menu_needs_words() -> None:
    text = flow_text(NODES.replace("    kind: menu\n", "    kind: menu\n    speech: true\n"))
    problem = only_problem(text)
    assert problem.message == "speech is on but no option lists words"
    assert (problem.node, problem.line) == ("ask", line_of(text, "speech: true"))


def test_too_many_menu_options_is_a_warning_not_an_error() -> None:
    options = "".join(f'      "{k}": {{goto: bye}}\n' for k in "0123456789")
    nodes = NODES.replace('      "1": {goto: talk}\n      "2": {goto: bye}\n', options).replace(
        '"0": {goto: bye}', '"0": {goto: talk}'
    )
    text = flow_text(nodes)
    flow = parse_flow(text, "flow.yaml")
    assert len(flow.warnings) == 1
    warning = flow.warnings[0]
    assert warning.severity == "warning"
    assert warning.message == f"{MAX_MENU_OPTIONS + 1} options is too many to remember; split the menu"
    assert (warning.node, warning.line) == ("ask", line_of(text, "options:"))
    assert "warning:" in str(warning)


def test_warnings_do_not_hide_errors() -> None:
    options = "".join(f'      "{k}": {{goto: bye}}\n' for k in "0123456789")
    nodes = NODES.replace('      "1": {goto: talk}\n      "2": {goto: bye}\n', options)
    problems = problems_of(flow_text(nodes))  # talk is now unreachable
    assert [p.severity for p in problems] == ["error"]
    assert problems[0].node == "talk"


def test_dial_number_must_be_under_numbers() -> None:
    nodes = NODES.replace('"2": {goto: bye}', '"2": {goto: call}') + (
        "  call:\n    kind: dial\n    number: duty\n    answered: bye\n    next: talk\n"
    )
    text = flow_text(nodes)
    problem = only_problem(text)
    assert problem.message == "number 'duty' is not under numbers:"
    assert (problem.node, problem.line) == ("call", line_of(text, "number: duty"))


# --------------------------------------------------------------------------- lookups, case status

LOOKUP_NODES = NODES.replace('"2": {goto: bye}', '"2": {goto: ref}') + """\
  ref:
    kind: digits
    save_as: reference
    min_digits: 8
    max_digits: 8
    check_digit: true
    after_retries: {goto: bye}
    next: pin
  pin:
    kind: digits
    save_as: pin
    after_retries: {goto: bye}
    next: check
  check:
    kind: lookup
    op: verify_reference
    outcomes: {ok: status, wrong: pin, ended: bye}
  status:
    kind: say
    say: [hello, {case_status: true}, {reporter_message: true}]
    next: renew
  renew:
    kind: lookup
    op: issue_pin
    outcomes: {ok: talk, failed: bye}
"""
CASE_STATUSES = ("new", "in_review", "forwarded", "closed")
CASE_MESSAGES = MESSAGES + "".join(f"  case_status_{s}: {{ru: {s}, en: {s}}}\n" for s in CASE_STATUSES)


def test_lookup_flow_is_valid() -> None:
    flow = parse_flow(flow_text(LOOKUP_NODES, messages=CASE_MESSAGES))
    check, renew, ref = flow.node("check"), flow.node("renew"), flow.node("ref")
    assert (check.kind, check.op, renew.op) == ("lookup", "verify_reference", "issue_pin")  # type: ignore[union-attr]
    assert (ref.check_digit, flow.node("pin").check_digit) == (True, False)  # type: ignore[union-attr]
    assert LOOKUP_OUTCOMES == {"verify_reference": ("ok", "wrong", "ended"), "issue_pin": ("ok", "failed"),
                               "replay_messages": ("ok", "failed")}


def test_lookup_outcome_the_op_does_not_have_is_refused() -> None:
    text = flow_text(LOOKUP_NODES.replace("wrong: pin, ended: bye}", "wrong: pin, ended: bye, failed: bye}"),
                     messages=CASE_MESSAGES)
    problem = only_problem(text)
    assert problem.message == "verify_reference has no outcome 'failed'; it has ok, wrong, ended"
    assert (problem.node, problem.line) == ("check", line_of(text, "failed: bye}"))


@pytest.mark.parametrize(
    ("old", "new", "node", "outcome", "op"),
    [
        ("wrong: pin, ended: bye}", "wrong: pin}", "check", "ended", "verify_reference"),
        ("{ok: talk, failed: bye}", "{ok: talk}", "renew", "failed", "issue_pin"),
    ],
)
def test_lookup_outcome_left_out_is_refused(old: str, new: str, node: str, outcome: str, op: str) -> None:
    text = flow_text(LOOKUP_NODES.replace(old, new), messages=CASE_MESSAGES)
    problem = only_problem(text)
    assert problem.message == f"say where outcome {outcome!r} of {op} goes"
    assert (problem.node, problem.line) == (node, line_of(text, new))


def test_lookup_outcome_to_an_unknown_node_is_refused() -> None:
    text = flow_text(LOOKUP_NODES.replace("wrong: pin,", "wrong: pinn,"), messages=CASE_MESSAGES)
    problem = only_problem(text)
    assert problem.message == "goes to unknown node 'pinn'"
    assert (problem.node, problem.line) == ("check", line_of(text, "wrong: pinn"))


def test_lookup_op_must_be_known() -> None:
    text = flow_text(LOOKUP_NODES.replace("op: issue_pin", "op: delete_case"), messages=CASE_MESSAGES)
    problem = only_problem(text)
    assert problem.message.startswith("nodes.renew.op: 'delete_case' is not allowed")
    assert (problem.node, problem.line) == ("renew", line_of(text, "op: delete_case"))


def test_lookup_outcomes_count_as_edges() -> None:
    text = flow_text(LOOKUP_NODES.replace("{ok: status,", "{ok: renew,"), messages=CASE_MESSAGES)
    problem = only_problem(text)  # status was reached only through check's ok
    assert (problem.node, problem.message) == ("status", "unreachable: no path from start leads here")


@pytest.mark.parametrize("status", ["new", "in_review", "forwarded", "closed"])
def test_case_status_needs_a_message_for_each_of_the_four_statuses(status: str) -> None:
    messages = CASE_MESSAGES.replace(f"  case_status_{status}: {{ru: {status}, en: {status}}}\n", "")
    text = flow_text(LOOKUP_NODES, messages=messages)
    problem = only_problem(text)
    assert problem.message == f"case_status needs a message case_status_{status}"
    assert (problem.node, problem.line) == ("status", line_of(text, "{case_status: true}"))


def test_case_status_without_any_of_its_messages_names_all_four() -> None:
    problems = problems_of(flow_text(LOOKUP_NODES))
    assert [p.message for p in problems] == [
        f"case_status needs a message case_status_{s}" for s in CASE_STATUSES
    ]
    assert {p.node for p in problems} == {"status"}


def test_reporter_message_needs_no_message_of_its_own() -> None:
    assert "reporter_message_intro" not in CASE_MESSAGES
    parse_flow(flow_text(LOOKUP_NODES, messages=CASE_MESSAGES))


# --------------------------------------------------------------------------- regions


def test_region_code_used_twice_points_at_the_second() -> None:
    regions = REGIONS + '  - {code: "01", kato: "750000000", names: {ru: Алматы, en: Almaty}}\n'
    text = flow_text(regions=regions)
    problem = only_problem(text)
    assert problem.message == "region code 01 is used twice"
    assert problem.line == line_of(text, "Алматы")
    assert problem.node is None


def test_kato_code_used_twice_points_at_the_second() -> None:
    regions = REGIONS + '  - {code: "02", kato: "710000000", names: {ru: Алматы, en: Almaty}}\n'
    text = flow_text(regions=regions)
    problem = only_problem(text)
    assert problem.message == "KATO code 710000000 is used twice"
    assert problem.line == line_of(text, "Алматы")


def test_region_needs_a_name_in_every_language() -> None:
    regions = REGIONS + '  - code: "02"\n    kato: "750000000"\n    names: {ru: Алматы}\n'
    text = flow_text(regions=regions)
    problem = only_problem(text)
    assert problem.message == "region 02 has no 'en' name"
    assert problem.line == line_of(text, 'code: "02"')


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [('code: "01"', 'code: "1"', "code"), ('kato: "710000000"', 'kato: "7100"', "kato")],
)
def test_region_code_formats_are_checked(old: str, new: str, field: str) -> None:
    text = flow_text(regions=REGIONS.replace(old, new))
    problem = only_problem(text)
    assert problem.message.startswith(f"regions.0.{field}: String should match pattern")
    assert problem.line == line_of(text, new)


# --------------------------------------------------------------------------- prompt audio

KK_LANGUAGES = LANGUAGES + "  kk: {audio_only: true, speech_language: ru-RU}\n"
KK_MESSAGES = """\
messages:
  hello: {kk: Сәлем, ru: Здравствуйте, en: Hello}
  no_input: {kk: Естілмеді, ru: Не слышно, en: Nothing heard}
  invalid_input: {kk: Жоқ, ru: Нет такого, en: Not a choice}
  too_short: {kk: Қысқа, ru: Коротко, en: Too short}
"""
KK_REGIONS = 'regions:\n  - {code: "01", kato: "710000000", names: {kk: Астана, ru: Астана, en: Astana}}\n'
KK_FILES = [
    *(f"kk/{key}.wav" for key in ("hello", "no_input", "invalid_input", "too_short")),
    *(f"kk/digits/{d}.wav" for d in "0123456789"),
    "kk/regions/01.wav",
]


def kk_flow_text() -> str:
    return flow_text(languages=KK_LANGUAGES, messages=KK_MESSAGES, regions=KK_REGIONS)


def write_prompts(root: Path, files: list[str], size: int = 1024) -> None:
    for relative in files:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF" + b"\0" * (size - 4))


def test_audio_only_language_loads_when_every_prompt_exists(tmp_path: Path) -> None:
    write_prompts(tmp_path, KK_FILES)
    assert parse_flow(kk_flow_text(), prompts_dir=tmp_path).languages == ("ru", "en", "kk")


def test_audio_only_language_is_not_checked_without_prompts_dir() -> None:
    assert parse_flow(kk_flow_text()).languages == ("ru", "en", "kk")


@pytest.mark.parametrize("missing", ["kk/hello.wav", "kk/digits/7.wav", "kk/regions/01.wav"])
def test_missing_prompt_audio_is_named_with_the_fix(tmp_path: Path, missing: str) -> None:
    write_prompts(tmp_path, [f for f in KK_FILES if f != missing])
    text = kk_flow_text()
    problem = only_problem(text, tmp_path)
    assert problem.message.startswith(f"prompt audio {missing} is missing from {tmp_path}")
    assert "ivr prompts render" in problem.message
    expected_line = {
        "kk/hello.wav": line_of(text, "hello: {kk"),
        "kk/digits/7.wav": line_of(text, "  kk: {audio_only"),
        "kk/regions/01.wav": line_of(text, 'code: "01"'),
    }[missing]
    assert problem.line == expected_line


def test_empty_prompt_audio_is_refused(tmp_path: Path) -> None:
    write_prompts(tmp_path, KK_FILES)
    (tmp_path / "kk" / "too_short.wav").write_bytes(b"")
    text = kk_flow_text()
    problem = only_problem(text, tmp_path)
    assert problem.message == "prompt audio kk/too_short.wav is empty or not a playable file"
    assert problem.line == line_of(text, "too_short: {kk")


def test_studio_audio_on_a_tts_language_is_checked_too(tmp_path: Path) -> None:
    messages = MESSAGES.replace("en: Hello}", "en: {text: Hello, audio: studio/hello_en.wav}}")
    text = flow_text(messages=messages)
    problem = only_problem(text, tmp_path)
    assert problem.message.startswith("prompt audio studio/hello_en.wav is missing")
    write_prompts(tmp_path, ["studio/hello_en.wav"])
    assert parse_flow(text, prompts_dir=tmp_path).message("hello", "en").audio == "studio/hello_en.wav"


# --------------------------------------------------------------------------- all at once, version


def test_several_errors_are_reported_at_once() -> None:
    nodes = (
        NODES.replace("say: [hello]\n    options", "say: [helo]\n    options").replace(
            "    next: bye\n", "    next: nowhere\n"
        )
        + "  orphan:\n    kind: hangup\n"
    )
    text = flow_text(nodes, default="kk", messages=MESSAGES.replace(", en: Too short}", "}"))
    problems = problems_of(text)
    found = {(p.node, p.message) for p in problems}
    assert found >= {
        (None, "'kk' is not in languages"),
        (None, "message 'too_short' has no 'en' text"),
        ("ask", "unknown message 'helo'"),
        ("talk", "goes to unknown node 'nowhere'"),
        ("orphan", "unreachable: no path from start leads here"),
    }
    assert all(p.line is not None for p in problems)
    assert all(p.severity == "error" for p in problems)
    assert str(FlowError(problems)).count("\n") == len(problems) - 1


def test_several_shape_errors_are_reported_at_once() -> None:
    text = flow_text(NODES.replace("    next: bye\n", "    nxet: bye\n").replace("kind: hangup", "kind: bye"))
    nodes = {p.node for p in problems_of(text)}
    assert nodes == {"talk", "bye"}


def test_flow_version_changes_with_the_text_and_only_with_it() -> None:
    text = flow_text()
    first = parse_flow(text, "a.yaml")
    assert parse_flow(text, "b.yaml").version == first.version
    assert re.fullmatch(r"[0-9a-f]{12}", first.version)
    assert parse_flow(text + "# a comment\n").version != first.version
    assert parse_flow(text.replace("Hello", "Good day")).version != first.version


def test_flow_keeps_its_source_and_path() -> None:
    text = flow_text()
    flow = parse_flow(text, "config/flow.yaml")
    assert (flow.source, flow.path, flow.name) == (text, "config/flow.yaml", "mini")


# --------------------------------------------------------------------------- regions by speech


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("Астана", "01"),
        ("Nur-Sultan", "01"),
        ("Нұр-Сұлтан", "01"),
        ("Алматы", "02"),
        ("АЛМАТЫ!", "02"),
        ("almaty city", "02"),
        ("город Алма-Ата пожалуйста", "02"),
        ("Алматы облысы", "07"),
        ("я живу в Алматы облысы", "07"),
        ("Almaty Region", "07"),
        ("Алматинская область", "07"),
        ("Қонаев", "07"),
        ("Семёй", "04"),
        ("СЕМЁЙ", "04"),
        ("Усть-Каменогорск.", "09"),
        ("ust kamenogorsk", "09"),
        ("Өскемен", "09"),
        ("Акмола", "05"),
        ("Акмола город", "01"),
        ("Chimkent, please", "03"),
        ("Түркістан", "19"),
        ("  туркестан  ", "19"),
        ("Zhezkazgan", "20"),
    ],
)
def test_region_for_speech_matches_names_and_aliases(flow: Flow, said: str, code: str) -> None:
    region = flow.region_for_speech(said)
    assert region is not None, said
    assert region.code == code


@pytest.mark.parametrize("said", ["", "   ", "?!", "я не знаю", "banana", "Алматыкент", "Москва"])
def test_region_for_speech_returns_none_for_nonsense(flow: Flow, said: str) -> None:
    assert flow.region_for_speech(said) is None


def test_region_for_speech_knows_every_name_in_every_language(flow: Flow) -> None:
    for region in flow.doc.regions:
        for name in region.names.values():
            assert flow.region_for_speech(name) == region, name
        for aliases in region.aliases.values():
            for alias in aliases:
                assert flow.region_for_speech(alias) == region, alias


@pytest.mark.parametrize(
    ("kazakh", "folded"),
    list(zip("қғөұүәңіһё", "кгоууанихе", strict=True)),
)
def test_normalize_words_folds_each_kazakh_letter_in_both_cases(kazakh: str, folded: str) -> None:
    assert normalize_words(f"а{kazakh}б") == f"а{folded}б"
    assert normalize_words(f"А{kazakh.upper()}Б") == f"а{folded}б"


def test_normalize_words_folds_whole_kazakh_names() -> None:
    assert normalize_words("Шығыс Қазақстан, Өскемен!") == "шыгыс казахстан оскемен"
    assert normalize_words("Әулиеата Маңғыстау Түркістан Жезқазған Һ") == "аулиеата мангыстау туркистан жезказган х"


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("Оскемен", "09"),  # Өскемен; ru-RU has only Усть-Каменогорск
        ("Туркистан", "19"),  # Түркістан; ru-RU: Туркестан
        ("Жетису", "11"),  # Жетісу; ru-RU: Жетысу
        ("Мангыстау", "16"),  # Маңғыстау; ru-RU: Мангистау
        ("Солтустик Казакстан", "18"),
        ("Ақтөбе облысы", "06"),
    ],
)
def test_region_for_speech_matches_kazakh_names_as_russian_recognition_writes_them(
    flow: Flow, said: str, code: str
) -> None:
    region = flow.region_for_speech(said)
    assert region is not None and region.code == code


@pytest.mark.parametrize(
    ("said", "code"),
    [("Шыгыс Казахстан", "09"), ("Батыс Казахстан облысы", "12"), ("Солтустик Казахстан", "18")],
)
def test_region_for_speech_matches_kazakh_names_with_the_russian_spelling_of_kazakhstan(
    flow: Flow, said: str, code: str
) -> None:
    region = flow.region_for_speech(said)
    assert region is not None and region.code == code


def test_a_prompt_a_caller_cannot_skip_is_a_warning() -> None:
    text = FLOW_PATH.read_text(encoding="utf-8")
    shipped = parse_flow(text)
    assert not [w for w in shipped.warnings if "cannot skip" in w.message]  # every shipped prompt takes a key
    unskippable = text.replace("    op: verify_reference\n", "    op: verify_reference\n    say: [enter_pin]\n", 1)
    [warning] = [w for w in parse_flow(unskippable).warnings if "cannot skip" in w.message]
    assert (warning.node, warning.severity) == ("followup_check", "warning")
