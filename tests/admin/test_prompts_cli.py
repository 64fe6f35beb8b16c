"""`ivr prompts render|check` over every line's flow."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.admin.conftest import PROMPTS


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    target = tmp_path / "prompts"
    shutil.copytree(PROMPTS, target)
    return target


def test_check_passes_on_the_shipped_audio_and_fails_on_a_missing_file(ivr, prompts: Path) -> None:  # type: ignore[no-untyped-def]
    ok = ivr("prompts", "check", prompts_dir=str(prompts))
    # The only warning: the Kazakh prompts are still espeak-ng placeholders.
    assert ok.code == 0 and ok.out.strip().endswith("0 error(s), 1 warning(s)")

    (prompts / "kk" / "officer_unavailable.wav").unlink()
    missing = ivr("prompts", "check", prompts_dir=str(prompts))
    assert missing.code == 1 and "kk/officer_unavailable.wav: error: missing; run `ivr prompts render`" in missing.out


def test_render_redoes_only_what_is_missing(ivr, prompts: Path) -> None:  # type: ignore[no-untyped-def]
    (prompts / "kk" / "officer_unavailable.wav").unlink()
    run = ivr("prompts", "render", prompts_dir=str(prompts))
    assert run.code == 0, run.err
    assert "flow public:" in run.out and "\n1 rendered," in run.out and "/" in run.out  # the progress bar
    assert (prompts / "kk" / "officer_unavailable.wav").stat().st_size > 1000
    assert ivr("prompts", "check", prompts_dir=str(prompts)).code == 0


def test_a_file_only_another_line_plays_is_not_called_a_leftover(ivr, two_lines: Path, prompts: Path) -> None:  # type: ignore[no-untyped-def]
    business = two_lines / "business.yaml"
    business.write_text(business.read_text(encoding="utf-8").replace(
        "  your_recording:\n    kk: Сіздің жазбаңыз.",
        "  your_recording:\n    kk: {text: Сіздің жазбаңыз., audio: business/kk/your_recording.wav}", 1),
        encoding="utf-8")
    (prompts / "business" / "kk").mkdir(parents=True)
    shutil.copy(prompts / "kk" / "your_recording.wav", prompts / "business" / "kk" / "your_recording.wav")

    run = ivr("prompts", "check", prompts_dir=str(prompts), flow_path=str(two_lines / "flow.yaml"))

    assert run.code == 0, run.out
    assert "business/kk/your_recording.wav" not in run.out  # the business flow plays it


def test_machine_voiced_placeholders_are_a_warning_with_their_count(ivr, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS, prompts)
    run = ivr("prompts", "check", prompts_dir=str(prompts))
    assert run.code == 0, run.out + run.err
    placeholders = sum(1 for f in (prompts / "kk").rglob("*.wav"))
    assert f"kk/: warning: {placeholders} of {placeholders} prompt(s) are espeak-ng placeholders" in run.out
    # A studio recording (any file render did not make) is one fewer to record.
    studio = prompts / "kk" / "goodbye.wav"
    studio.write_bytes(studio.read_bytes()[:-2] + b"\x01\x00")
    run = ivr("prompts", "check", prompts_dir=str(prompts))
    assert f"{placeholders - 1} of {placeholders} prompt(s) are espeak-ng placeholders" in run.out
    strict = ivr("flow", "check", "--strict", "--prompts", str(prompts))
    assert strict.code == 1 and "espeak-ng placeholders" in strict.out
