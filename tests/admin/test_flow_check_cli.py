"""`ivr flow check`: every kind of problem comes out with file, line, node and a fix; exit codes for CI."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import pytest

from tests.admin.conftest import FLOW, PROMPTS

SHIPPED = FLOW.read_text(encoding="utf-8")


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing `needle`."""
    found = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) >= occurrence, f"{needle!r} not in the flow"
    return found[occurrence - 1]


def mutate(old: str, new: str) -> str:
    assert old in SHIPPED, old
    return SHIPPED.replace(old, new, 1)


def findings(ivr, path: Path, *flags: str) -> tuple[int, list[dict]]:  # type: ignore[no-untyped-def]
    run = ivr("flow", "check", str(path), "--json", *flags)
    report = json.loads(run.out)
    return run.code, report["problems"]


# (id, old, new, kind, message part, node, fix part, line marker in the new text)
CASES = [
    ("yaml-syntax", "    kind: say\n    say: [officer_unavailable]", "    kind: say\n\tsay: [officer_unavailable]",
     "yaml-syntax", "not valid YAML", None, "spaces (never tabs)", "\tsay: [officer_unavailable]"),
    ("duplicate-key", "    say: [officer_unavailable]\n    next: urgent_record",
     "    say: [officer_unavailable]\n    next: urgent_record\n    next: urgent_record",
     "duplicate-key", "duplicate key 'next'", None, "written twice", ("next: urgent_record", 2)),
    ("unknown-field", "    say: [officer_unavailable]\n", "    sya: [officer_unavailable]\n",
     "unknown-field", "unknown field 'sya'", "officer_unavailable", "did you mean 'say'?",
     "sya: [officer_unavailable]"),
    ("missing-field", "    say: [officer_unavailable]\n    next: urgent_record\n", "    say: [officer_unavailable]\n",
     "missing-field", "missing field 'next'", "officer_unavailable", "add `next:`", "  officer_unavailable:"),
    ("unknown-kind", "  officer_unavailable:\n    kind: say", "  officer_unavailable:\n    kind: speak",
     "unknown-kind", "unknown kind", "officer_unavailable", "one of the kinds", "  officer_unavailable:"),
    ("invalid-value", "    timeout_s: 5\n    retries: 1\n", "    timeout_s: 500\n    retries: 1\n",
     "invalid-value", "timeout_s", "choose_language", "allowed range", "timeout_s: 500"),
    ("missing-translation",
     "    en: The duty officer cannot answer right now. We will record your report and mark it urgent.\n", "",
     "missing-translation", "message 'officer_unavailable' has no 'en' text", "officer_unavailable",
     "add the English text", ("  officer_unavailable:", 2)),
    ("unknown-message", "    say: [officer_unavailable]", "    say: [officer_unavailable, officer_unavailabl]",
     "unknown-message", "unknown message 'officer_unavailabl'", "officer_unavailable",
     "did you mean 'officer_unavailable'?", "say: [officer_unavailable, officer_unavailabl]"),
    ("unknown-node", "    next: urgent_record", "    next: urgent_recrod",
     "unknown-node", "goes to unknown node 'urgent_recrod'", "officer_unavailable", "did you mean 'urgent_record'?",
     "next: urgent_recrod"),
    ("unreachable-node", "  goodbye:\n", "  orphan:\n    kind: hangup\n    say: [goodbye]\n\n  goodbye:\n",
     "unreachable-node", "unreachable", "orphan", "nothing leads here", "  orphan:"),
    ("dead-end", '      "1": {goto: playback}',
     '      "1": {goto: limbo}\n      "4": {goto: playback}',
     "dead-end", "dead end", "limbo", "can never finish", None),
    ("instant-loop", "    say: [your_recording, {recording: true}]\n    next: review",
     "    say: [your_recording, {recording: true}]\n    next: playback",
     "instant-loop", "loops back to itself", "playback", "put a menu in the loop", "  playback:"),
    ("invalid-key", '      "3": {goto: finish}', '      "3": {goto: finish}\n      "12": {goto: finish}',
     "invalid-key", "option '12' is not one keypad key", "review", "single keypad key", '"12": {goto: finish}'),
    ("invalid-set", '"1": {set: {language: kk}, goto: anonymity}', '"1": {set: {colour: kk}, goto: anonymity}',
     "invalid-set", "cannot set 'colour'", "choose_language", "`set:` can change only", "colour: kk"),
    ("language-not-enabled", '"1": {set: {language: kk}, goto: anonymity}',
     '"1": {set: {language: de}, goto: anonymity}',
     "language-not-enabled", "language 'de' is not enabled", "choose_language", "under `languages:`", "language: de"),
    ("unknown-number", "    number: duty_officer", "    number: officer",
     "unknown-number", "number 'officer' is not under numbers", "duty_officer", "under `numbers:`", "number: officer"),
    ("speech-without-words", "    timeout_s: 5\n    retries: 1\n",
     "    timeout_s: 5\n    speech: true\n    retries: 1\n",
     "speech-without-words", "speech is on", "choose_language", "`words:`", "speech: true"),
    ("invalid-pattern", r"pattern: '^[78]?7\d{9}$'", r"pattern: '^[78?7\d{9}$'",
     "invalid-pattern", "not a valid regular expression", "contact_number", "single quotes", "pattern:"),
    ("duplicate-region", '  - code: "02"', '  - code: "01"',
     "duplicate-region", "region code 01 is used twice", None, "its own code", ('- code: "01"', 2)),
    ("empty-menu", '    options:\n      "1": {goto: repeat_numbers}\n    after_retries: {goto: goodbye}',
     "    options: {}\n    after_retries: {goto: goodbye}",
     "empty-menu", "needs at least one option", "repeat", "at least one option", "options: {}"),
    ("language-voice", "    voice: Polly.Joanna\n", "",
     "language-voice", "give voice and tts_language", None, "audio_only: true", "  en:"),
]


@pytest.mark.parametrize(("old", "new", "kind", "message", "node", "fix", "marker"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_each_problem_kind_has_file_line_node_and_fix(ivr, flow_dir: Path, old: str, new: str, kind: str,  # type: ignore[no-untyped-def]
                                                      message: str, node: str | None, fix: str,
                                                      marker: str | tuple[str, int] | None) -> None:
    if kind == "dead-end":
        new = new  # the limbo node is added below: a menu that only ever leads back to itself
        text = mutate(old, new).replace(
            "  goodbye:\n",
            "  limbo:\n    kind: menu\n    say: [review_menu]\n    options:\n      \"1\": {goto: limbo}\n"
            "    after_retries: {goto: limbo}\n\n  goodbye:\n", 1)
        marker = "  limbo:"
    else:
        text = mutate(old, new)
    path = flow_dir / "flow.yaml"
    path.write_text(text, encoding="utf-8")

    code, problems = findings(ivr, path, "--no-audio")

    assert code == 1
    matching = [p for p in problems if p["kind"] == kind and message in p["message"]]
    assert matching, f"no {kind} problem with {message!r} in {problems}"
    found = matching[0]
    assert found["file"] == str(path)
    assert found["severity"] == "error"
    assert found["node"] == node
    assert fix in found["fix"]
    if marker is not None:
        needle, occurrence = marker if isinstance(marker, tuple) else (marker, 1)
        assert found["line"] == line_of(text, needle, occurrence)
    assert all(p["kind"] != "other" for p in problems), problems


def test_human_output_names_file_line_node_and_fix(ivr, flow_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = flow_dir / "flow.yaml"
    text = mutate("    next: officer_unavailable", "    next: officer_unavailabel")
    path.write_text(text, encoding="utf-8")

    run = ivr("flow", "check", str(path), "--no-audio")

    assert run.code == 1
    line = line_of(text, "next: officer_unavailabel")
    assert f"{path}:{line}: [node duty_officer] error: goes to unknown node 'officer_unavailabel'" in run.out
    assert "    fix: fix the node name (did you mean 'officer_unavailable'?)" in run.out
    # Everything the typo cut off is reported too, but pointed back at its cause.
    assert "unreachable" in run.out and "probably follows from the unknown node name" in run.out
    assert "error(s)" in run.err and "last good version" in run.err


def test_valid_flow_exits_0_with_a_summary(ivr) -> None:  # type: ignore[no-untyped-def]
    run = ivr("flow", "check")
    assert run.code == 0, run.out + run.err
    # The placeholders, and the shipped rota with nobody on duty (no officers' numbers in the repository).
    assert "\nok, 0 error(s), 2 warning(s)" in run.out and "espeak-ng placeholders" in run.out
    assert "nobody is on duty at any hour" in run.out
    assert "line public" in run.out


def test_json_output_for_ci(ivr, flow_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = flow_dir / "flow.yaml"
    path.write_text(mutate("    say: [officer_unavailable]", "    say: [officer_unavailable, officer_unavailabl]"),
                    encoding="utf-8")

    run = ivr("flow", "check", str(path), "--json", "--no-audio")

    report = json.loads(run.out)
    assert run.code == 1 and run.err == ""
    assert report["ok"] is False and report["errors"] == 1 and report["warnings"] == 0
    assert report["files"] == [str(path)]
    assert set(report["problems"][0]) == {"file", "line", "node", "severity", "kind", "message", "fix"}

    ok = json.loads(ivr("flow", "check", "--json").out)
    assert ok["ok"] is True and ok["flows"]["public"]["nodes"] > 10
    # The Kazakh prompts are espeak-ng; the shipped rota names nobody.
    assert sorted(p["kind"] for p in ok["problems"]) == ["duty-rota-gap", "prompt-placeholder"]


def test_warnings_exit_0_unless_strict(ivr, flow_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = flow_dir / "flow.yaml"
    extra = "".join(f'\n      "{key}": {{goto: finish}}' for key in "4567890")
    path.write_text(mutate('      "3": {goto: finish}', '      "3": {goto: finish}' + extra), encoding="utf-8")

    run = ivr("flow", "check", str(path), "--no-audio")
    assert run.code == 0
    assert "[node review] warning: 10 options is too many" in run.out
    assert "fix: callers remember about five choices" in run.out

    strict = ivr("flow", "check", str(path), "--no-audio", "--strict")
    assert strict.code == 1 and "fail with --strict" in strict.err
    report = json.loads(ivr("flow", "check", str(path), "--no-audio", "--json").out)
    kinds = [p["kind"] for p in report["problems"]]
    assert report["ok"] is True and report["warnings"] == 2 and sorted(kinds) == ["duty-rota-gap", "too-long-menu"]


def test_bad_settings_exit_2(ivr) -> None:  # type: ignore[no-untyped-def]
    run = ivr("flow", "check", IVR_PUBLIC_BASE_URL="ftp://nowhere")
    assert run.code == 2 and "IVR_PUBLIC_BASE_URL" in run.err


def test_unreadable_file_is_named(ivr, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, problems = findings(ivr, tmp_path / "nope.yaml")
    assert code == 1 and problems[0]["kind"] == "unreadable" and "nope.yaml" in problems[0]["file"]


# --------------------------------------------------------------------------- prompt audio


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    """A copy of the shipped prompt audio to break."""
    target = tmp_path / "prompts"
    shutil.copytree(PROMPTS, target)
    return target


def test_missing_prompt_audio_points_at_the_message_and_its_node(ivr, prompts: Path) -> None:  # type: ignore[no-untyped-def]
    (prompts / "kk" / "officer_unavailable.wav").unlink()

    code, problems = findings(ivr, FLOW, "--prompts", str(prompts))

    assert code == 1
    found = next(p for p in problems if p["kind"] == "prompt-missing")
    assert "kk/officer_unavailable.wav" in found["message"]
    assert found["line"] == line_of(SHIPPED, "    kk: Кезекші қазір жауап")
    assert found["node"] == "officer_unavailable"
    assert "ivr prompts render" in found["fix"]


def test_unplayable_prompt_audio_is_an_error_with_the_sox_fix(ivr, prompts: Path) -> None:  # type: ignore[no-untyped-def]
    (prompts / "kk" / "goodbye.wav").write_bytes(b"this is not audio at all, only text pretending" * 4)

    code, problems = findings(ivr, FLOW, "--prompts", str(prompts))

    assert code == 1
    found = next(p for p in problems if p["kind"] == "prompt-unplayable")
    assert "kk/goodbye.wav" in found["message"] and "not a PCM WAV" in found["message"]
    # The message is said by more than one node; the finding names one of them and the message's line.
    assert found["node"] in {"goodbye", "no_reference"}
    assert found["line"] == line_of(SHIPPED, "    kk: Қоңырауыңызға рақмет")
    assert "sox" in found["fix"]


def test_stale_placeholder_and_leftover_file(ivr, flow_dir: Path, prompts: Path) -> None:  # type: ignore[no-untyped-def]
    path = flow_dir / "flow.yaml"
    path.write_text(SHIPPED.replace("kk: Рақмет. Хабарламаңыз қабылданды.", "kk: Рақмет! Хабарламаңыз қабылданды.", 1),
                    encoding="utf-8")
    shutil.copy(prompts / "kk" / "goodbye.wav", prompts / "kk" / "old_greeting.wav")

    code, problems = findings(ivr, path, "--prompts", str(prompts))

    kinds = {p["kind"]: p for p in problems}
    assert code == 1
    assert kinds["prompt-stale"]["node"] == "finish" and "report_accepted" in kinds["prompt-stale"]["message"]
    assert kinds["prompt-stale"]["fix"].startswith("run `ivr prompts render`")
    assert kinds["prompt-unused"]["severity"] == "warning" and "old_greeting.wav" in kinds["prompt-unused"]["message"]


def test_oversized_audio_format_is_a_warning(ivr, prompts: Path) -> None:  # type: ignore[no-untyped-def]
    with wave.open(str(prompts / "kk" / "goodbye.wav"), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(b"\x01\x00" * 2 * 44100)

    code, problems = findings(ivr, FLOW, "--prompts", str(prompts))

    assert code == 0
    found = next(p for p in problems if p["kind"] == "prompt-format")
    assert found["severity"] == "warning" and "44100 Hz" in found["message"]


# --------------------------------------------------------------------------- lines.yaml


LINES_CASES = [
    ("invalid-number", '["+77172141425"]', '["8 7172 14 14 25"]', "is not an E.164 number", '"8 7172'),
    ("invalid-number", '["+77172141425"]', "[+77172141425]", "put the number in quotes", "[+77172141425]"),
    ("duplicate-number", '["+77172141425"]', '["+77172141424"]', "already the number of line 'public'",
     ('["+77172141424"]', 2)),
    ("unknown-line", "default: public", "default: publik", "default line 'publik'", "default: publik"),
    ("missing-flow-file", "flow: business.yaml", "flow: busines.yaml", "busines.yaml does not exist",
     "flow: busines.yaml"),
    ("unknown-field", "    flow: business.yaml", "    flwo: business.yaml", "unknown field 'flwo'", "flwo:"),
    ("invalid-name", "  business:", "  Business Line:", "line name 'Business Line'", "Business Line:"),
]


@pytest.mark.parametrize(("kind", "old", "new", "message", "marker"), LINES_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(LINES_CASES)])
def test_lines_file_problems_have_file_and_line(ivr, two_lines: Path, kind: str, old: str, new: str,  # type: ignore[no-untyped-def]
                                                message: str, marker: str | tuple[str, int]) -> None:
    lines = two_lines / "lines.yaml"
    text = lines.read_text(encoding="utf-8").replace(old, new, 1)
    lines.write_text(text, encoding="utf-8")

    code, problems = findings(ivr, two_lines / "flow.yaml", "--no-audio")

    assert code == 1
    found = next(p for p in problems if p["kind"] == kind)
    assert message in found["message"] and found["file"] == str(lines)
    needle, occurrence = marker if isinstance(marker, tuple) else (marker, 1)
    assert found["line"] == line_of(text, needle, occurrence)


def test_lines_file_checks_every_flow_it_names(ivr, two_lines: Path) -> None:  # type: ignore[no-untyped-def]
    business = two_lines / "business.yaml"
    business.write_text(business.read_text(encoding="utf-8").replace("next: urgent_record", "next: anonimity", 1),
                        encoding="utf-8")

    run = ivr("flow", "check", str(two_lines / "lines.yaml"), "--no-audio")

    assert run.code == 1
    assert f"{business}:" in run.out and "unknown node 'anonimity'" in run.out
    public = [line for line in run.out.splitlines() if line.startswith(f"{two_lines / 'flow.yaml'}:")]
    assert not [line for line in public if " error: " in line]  # the public flow is fine


def test_line_without_numbers_is_a_warning(ivr, two_lines: Path) -> None:  # type: ignore[no-untyped-def]
    lines = two_lines / "lines.yaml"
    lines.write_text(lines.read_text(encoding="utf-8").replace('["+77172141425"]', "[]"), encoding="utf-8")
    code, problems = findings(ivr, lines, "--no-audio")
    assert code == 0 and problems[0]["kind"] == "unreachable-line" and problems[0]["severity"] == "warning"


def test_two_flows_with_one_name_are_refused(ivr, two_lines: Path) -> None:  # type: ignore[no-untyped-def]
    business = two_lines / "business.yaml"
    business.write_text(business.read_text(encoding="utf-8").replace("name: business", "name: public", 1),
                        encoding="utf-8")
    code, problems = findings(ivr, two_lines / "lines.yaml", "--no-audio")
    found = next(p for p in problems if p["kind"] == "duplicate-flow-name")
    assert code == 1 and found["line"] == line_of(business.read_text(encoding="utf-8"), "name: public")


def test_two_flows_wanting_different_words_in_one_placeholder_are_refused(ivr, two_lines: Path) -> None:  # type: ignore[no-untyped-def]
    business = two_lines / "business.yaml"
    text = business.read_text(encoding="utf-8").replace("kk: Сіздің жазбаңыз.", "kk: Жазбаңыз.", 1)
    business.write_text(text, encoding="utf-8")
    code, problems = findings(ivr, two_lines / "lines.yaml", "--no-audio")
    found = next(p for p in problems if p["kind"] == "prompt-conflict")
    assert code == 1 and "kk/your_recording.wav" in found["message"] and found["node"] == "playback"
    assert found["line"] == line_of(text, "kk: Жазбаңыз.")


def test_a_broken_lines_file_named_directly(ivr, two_lines: Path) -> None:  # type: ignore[no-untyped-def]
    lines = two_lines / "lines.yaml"
    lines.write_text(lines.read_text(encoding="utf-8").replace("default: public", "default: [public", 1),
                     encoding="utf-8")
    code, problems = findings(ivr, lines)
    assert code == 1 and problems[0]["kind"] == "yaml-syntax" and problems[0]["file"] == str(lines)
