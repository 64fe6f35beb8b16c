"""Placeholder prompt audio: rendered with the real espeak-ng and sox, then checked."""

from __future__ import annotations

import hashlib
import json
import math
import struct
import wave
from pathlib import Path

import pytest

from ivr import prompts
from ivr.flow.loading import load_flow, parse_flow
from ivr.flow.model import Flow
from ivr.prompts import PromptError, PromptIssue, check_prompts, prompt_text, render_prompts


def checked(flow: Flow, prompts_dir: Path) -> list[PromptIssue]:
    """check_prompts without the count of espeak-ng placeholders (its own test is below)."""
    return [i for i in check_prompts(flow, prompts_dir) if "espeak-ng placeholders" not in i.problem]


REPO = Path(__file__).resolve().parents[1]

TINY_FLOW = """
name: tiny
languages:
  kk: {audio_only: true, speech_language: ru-RU}
  en: {voice: Polly.Joanna, tts_language: en-US}
default_language: en
start: bye
nodes:
  bye: {kind: hangup, say: [hello, goodbye]}
messages:
  hello: {kk: "Сәлеметсіз бе!", en: Hello.}
  goodbye: {kk: "Сау болыңыз.", en: Goodbye.}
regions:
  - {code: "01", kato: "710000000", names: {kk: Астана, en: Astana}}
"""

EXPECTED = {
    "kk/hello.wav",
    "kk/goodbye.wav",
    "kk/regions/01.wav",
    *(f"kk/digits/{d}.wav" for d in range(10)),
}


def tiny(text: str = TINY_FLOW) -> Flow:
    return parse_flow(text, "tiny.yaml")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_studio_wav(path: Path, seconds: float = 0.2) -> None:
    """A stand-in for a studio recording: a short 440 Hz tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(8000 * seconds)
    samples = (int(8000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(frames))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    report = render_prompts(tiny(), tmp_path)
    assert set(report.rendered) == EXPECTED
    return tmp_path


def test_renders_every_needed_file_as_8khz_mono_16bit_wav(tmp_path: Path) -> None:
    seen: list[tuple[int, int, str]] = []
    report = render_prompts(tiny(), tmp_path, progress=lambda i, n, p: seen.append((i, n, p)))

    assert set(report.rendered) == EXPECTED
    assert report.skipped == report.kept_studio == report.missing_studio == ()
    assert [(i, n) for i, n, _ in seen] == [(i, len(EXPECTED)) for i in range(1, len(EXPECTED) + 1)]
    for relative in EXPECTED:
        with wave.open(str(tmp_path / relative), "rb") as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
            assert audio.getnframes() > 800  # at least a tenth of a second of sound
    # Nothing for en: Twilio speaks it.
    assert not (tmp_path / "en").exists()
    manifest = json.loads((tmp_path / "kk" / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest) == {r.removeprefix("kk/") for r in EXPECTED}
    # The flow now loads with its prompts checked.
    parse_flow(TINY_FLOW, "tiny.yaml", prompts_dir=tmp_path)
    assert checked(tiny(), tmp_path) == []


def test_same_text_gives_the_same_bytes(rendered: Path) -> None:
    before = digest(rendered / "kk/hello.wav")
    render_prompts(tiny(), rendered, force=True)
    assert digest(rendered / "kk/hello.wav") == before  # committed files do not churn


def test_second_run_skips_everything(rendered: Path) -> None:
    report = render_prompts(tiny(), rendered)
    assert report.rendered == ()
    assert set(report.skipped) == EXPECTED


def test_changed_text_rerenders_only_that_file(rendered: Path) -> None:
    before = {r: digest(rendered / r) for r in EXPECTED}
    changed = tiny(TINY_FLOW.replace("Сәлеметсіз бе!", "Қайырлы күн!"))

    report = render_prompts(changed, rendered)

    assert report.rendered == ("kk/hello.wav",)
    assert set(report.skipped) == EXPECTED - {"kk/hello.wav"}
    assert digest(rendered / "kk/hello.wav") != before["kk/hello.wav"]
    assert all(digest(rendered / r) == before[r] for r in EXPECTED - {"kk/hello.wav"})


def test_studio_file_not_in_manifest_is_kept(tmp_path: Path) -> None:
    studio = tmp_path / "kk/goodbye.wav"
    write_studio_wav(studio)
    original = studio.read_bytes()

    report = render_prompts(tiny(), tmp_path)

    assert report.kept_studio == ("kk/goodbye.wav",)
    assert "kk/goodbye.wav" not in report.rendered
    assert studio.read_bytes() == original
    # A text change does not touch it either; only force does.
    render_prompts(tiny(TINY_FLOW.replace("Сау болыңыз.", "Қош болыңыз.")), tmp_path)
    assert studio.read_bytes() == original
    assert render_prompts(tiny(), tmp_path, force=True).rendered.count("kk/goodbye.wav") == 1
    assert studio.read_bytes() != original


def test_placeholder_replaced_by_a_recording_is_kept_and_never_stale(rendered: Path) -> None:
    studio = rendered / "kk/hello.wav"
    write_studio_wav(studio)
    original = studio.read_bytes()
    changed = tiny(TINY_FLOW.replace("Сәлеметсіз бе!", "Қайырлы күн!"))

    report = render_prompts(changed, rendered)

    assert report.kept_studio == ("kk/hello.wav",)
    assert studio.read_bytes() == original
    assert checked(changed, rendered) == []


def test_explicit_audio_is_never_rendered(tmp_path: Path) -> None:
    flow = tiny(TINY_FLOW.replace("en: Goodbye.", "en: {text: Goodbye., audio: studio/goodbye_en.wav}"))

    report = render_prompts(flow, tmp_path)

    assert report.missing_studio == ("studio/goodbye_en.wav",)
    assert not (tmp_path / "studio").exists()
    issues = checked(flow, tmp_path)
    assert [(i.path, i.severity) for i in issues] == [("studio/goodbye_en.wav", "error")]
    assert "studio recording" in issues[0].problem
    write_studio_wav(tmp_path / "studio/goodbye_en.wav")
    assert render_prompts(flow, tmp_path, force=True).kept_studio == ("studio/goodbye_en.wav",)
    assert checked(flow, tmp_path) == []


def test_check_reports_missing_stale_unplayable_and_orphans(rendered: Path) -> None:
    (rendered / "kk/digits/7.wav").unlink()
    (rendered / "kk/digits/8.wav").write_bytes(b"not audio at all")
    with wave.open(str(rendered / "kk/digits/9.wav"), "wb") as empty:
        empty.setnchannels(1)
        empty.setsampwidth(2)
        empty.setframerate(8000)
    write_studio_wav(rendered / "kk/old_message.wav")
    changed = tiny(TINY_FLOW.replace("Сәлеметсіз бе!", "Қайырлы күн!"))

    issues = {i.path: i for i in checked(changed, rendered)}

    assert set(issues) == {
        "kk/digits/7.wav",
        "kk/digits/8.wav",
        "kk/digits/9.wav",
        "kk/hello.wav",
        "kk/old_message.wav",
    }
    assert "missing" in issues["kk/digits/7.wav"].problem
    assert "not a PCM WAV" in issues["kk/digits/8.wav"].problem
    assert "0 frames" in issues["kk/digits/9.wav"].problem
    assert "stale" in issues["kk/hello.wav"].problem
    assert "not used" in issues["kk/old_message.wav"].problem
    assert issues["kk/old_message.wav"].severity == "warning"
    assert {i.severity for p, i in issues.items() if p != "kk/old_message.wav"} == {"error"}


def test_check_warns_about_formats_bigger_than_the_line_needs(rendered: Path) -> None:
    with wave.open(str(rendered / "kk/hello.wav"), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(b"\x01\x00" * 4000)
    [issue] = checked(tiny(), rendered)
    assert (issue.path, issue.severity) == ("kk/hello.wav", "warning")
    assert "44100 Hz" in issue.problem


def test_broken_manifest_stops_rendering(rendered: Path) -> None:
    (rendered / "kk/manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(PromptError, match=r"manifest\.json"):
        render_prompts(tiny(), rendered)
    assert any(i.path == "kk/manifest.json" for i in checked(tiny(), rendered))


def test_prompt_text_names_what_callers_hear() -> None:
    flow = tiny()
    assert prompt_text(flow, "kk/hello.wav") == "Сәлеметсіз бе!"
    assert prompt_text(flow, "kk/digits/4.wav") == "төрт"
    assert prompt_text(flow, "kk/regions/01.wav") == "Астана"
    assert prompt_text(flow, "./kk/digits/0.wav") == "нөл"
    assert prompt_text(flow, "en/hello.wav") is None  # Twilio says it; no file
    assert prompt_text(flow, "kk/nothing.wav") is None


def test_languages_filter(tmp_path: Path) -> None:
    assert render_prompts(tiny(), tmp_path, languages=["en"]).total == 0
    with pytest.raises(ValueError, match="fr"):
        render_prompts(tiny(), tmp_path, languages=["fr"])


def test_missing_espeak_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompts.shutil, "which", lambda name: None)
    with pytest.raises(PromptError, match=r"apt-get install espeak-ng sox"):
        render_prompts(tiny(), tmp_path)


def test_committed_prompts_match_the_flow() -> None:
    """config/prompts must be re-rendered whenever a Kazakh text in config/flow.yaml changes."""
    flow = load_flow(REPO / "config/flow.yaml", prompts_dir=REPO / "config/prompts")
    problems = [str(i) for i in checked(flow, REPO / "config/prompts")]
    assert problems == []


def test_studio_mp3_is_accepted_unless_empty(tmp_path: Path) -> None:
    flow = tiny(TINY_FLOW.replace("en: Goodbye.", "en: {text: Goodbye., audio: studio/goodbye_en.mp3}"))
    render_prompts(flow, tmp_path)
    mp3 = tmp_path / "studio/goodbye_en.mp3"
    mp3.parent.mkdir()
    mp3.write_bytes(b"")
    assert [(i.path, i.problem) for i in checked(flow, tmp_path)] == [
        ("studio/goodbye_en.mp3", "is empty: not playable")
    ]
    mp3.write_bytes(b"ID3\x04" + bytes(200))  # the stdlib cannot decode MP3: only emptiness is caught
    assert checked(flow, tmp_path) == []


def test_placeholders_are_counted_as_one_warning_per_language(tmp_path: Path) -> None:
    flow = tiny()
    render_prompts(flow, tmp_path)
    [warning] = [i for i in check_prompts(flow, tmp_path) if "espeak-ng placeholders" in i.problem]
    needed = len(list((tmp_path / "kk").rglob("*.wav")))
    assert (warning.path, warning.severity) == ("kk/", "warning")
    assert warning.problem.startswith(f"{needed} of {needed} prompt(s)")
