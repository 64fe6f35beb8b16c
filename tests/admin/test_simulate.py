"""`ivr simulate`: a call in the terminal against the real app, scripted or typed, with or without the workers."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, inspect

from ivr.twilio_standin.callers import (
    GatherPrompt,
    ScriptedCaller,
    Speech,
    parse_keys,
    tone_recording,
    wav_recording,
)
from ivr.twilio_standin.sandbox import Sandbox
from tests.admin.conftest import BUSINESS_NUMBER
from tests.support.twilio_sim import make_wav

REFERENCE = re.compile(r"^Case reference: (\d+)$", re.MULTILINE)
RU_INTRO = "Если требуют взятку сейчас — 0."
KK_INTRO = "Пара дәл қазір талап етілсе — 0."


@pytest.fixture
def report_wav(tmp_path: Path) -> Path:
    path = tmp_path / "report.wav"
    path.write_bytes(make_wav(12))
    return path


def test_scripted_call_in_russian_prints_prompts_and_the_reference(ivr, report_wav: Path) -> None:  # type: ignore[no-untyped-def]
    run = ivr("simulate", "--keys", "2,1,05,3", "--record", str(report_wav))

    assert run.code == 0, run.err
    out = run.out
    assert out.startswith("Calling +77172141424 (line public, flow public version ")
    assert f"  [ru] {RU_INTRO}" in out
    assert "  > keys 2\n" in out and "  > keys 05\n" in out
    assert "  ● recording: report.wav, 12 s" in out
    reference = REFERENCE.search(out)
    assert reference, out
    # The reference printed at the end is the one the caller heard, digit by digit.
    assert f"  [ru] {', '.join(reference.group(1))}." in out
    assert out.index("Номер обращения.") < out.index("Case reference:")


def test_kazakh_prompts_show_the_words_behind_the_audio(ivr, report_wav: Path) -> None:  # type: ignore[no-untyped-def]
    run = ivr("simulate", "--keys", "1,1,02,3", "--record", str(report_wav))

    assert run.code == 0, run.err
    assert f"  [kk] {KK_INTRO}" in run.out and "(kk/urgent_offer.wav)" in run.out
    reference = REFERENCE.search(run.out)
    assert reference
    words = ("нөл", "бір", "екі", "үш", "төрт", "бес", "алты", "жеті", "сегіз", "тоғыз")
    first_digit = words[int(reference.group(1)[0])]
    assert f"  [kk] {first_digit}  (kk/digits/{reference.group(1)[0]}.wav)" in run.out


def test_without_a_recording_the_call_ends_without_a_reference(ivr) -> None:  # type: ignore[no-untyped-def]
    run = ivr("simulate", "--keys", "2,hangup")
    assert run.code == 0
    assert "■ you hung up" in run.out and "No report was recorded" in run.out


def test_silence_and_speech_items(ivr, report_wav: Path) -> None:  # type: ignore[no-untyped-def]
    # Silence at the language menu: the short question again, in every language, no complaint.
    run = ivr("simulate", "--keys", ",2,1,say:Алматы,1,3", "--record", str(report_wav))
    assert run.code == 0, run.err
    assert "  > (silence)" in run.out and "Мы не услышали ответа." not in run.out
    assert "  [ru] Алматы." in run.out and "  [ru] верно? Да — 1, нет — 2." in run.out  # read back
    assert "  > says Алматы" in run.out and REFERENCE.search(run.out)


def test_keys_typed_at_the_terminal(ivr) -> None:  # type: ignore[no-untyped-def]
    # Language, anonymous, region, then Enter at the recording prompt (tone), send, hang up.
    run = ivr("simulate", stdin="2\n1\n05\n\n3\nq\n")
    assert run.code == 0, run.err
    assert "keys (1 key; Enter: silence, q: hang up)>" in run.out
    assert "● recording: 5 s of tone, 5 s" in run.out
    assert REFERENCE.search(run.out)


def test_simulated_calls_never_touch_the_configured_database_or_queue(ivr, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                      redis_url: str, report_wav: Path) -> None:
    run = ivr("simulate", "--keys", "2,1,05,3", "--record", str(report_wav))
    assert run.code == 0
    configured = tmp_path / "cli.db"
    if configured.exists():
        assert "calls" not in inspect(create_engine(f"sqlite:///{configured}")).get_table_names()
    scratch = re.search(r"scratch storage in (\S+)", run.out)
    assert scratch and not Path(scratch.group(1)).exists()
    client = redis.Redis.from_url(redis_url)
    assert [key for key in client.keys("*") if b"simulate-" in key or key.startswith(b"ivr:call:")] == []


def test_a_line_by_name_or_number(ivr, two_lines: Path) -> None:  # type: ignore[no-untyped-def]
    flow = str(two_lines / "flow.yaml")
    by_name = ivr("simulate", "--line", "business", "--keys", "2", flow_path=flow)
    by_number = ivr("simulate", "--to", BUSINESS_NUMBER, "--keys", "2", flow_path=flow)
    for run in (by_name, by_number):
        assert run.code == 0, run.err
        assert "line business, flow business" in run.out
        assert "Здравствуйте! Это линия 1424 для предпринимателей." in run.out
    unknown = ivr("simulate", "--line", "nope", "--keys", "2", flow_path=flow)
    assert unknown.code == 2 and "no line 'nope'" in unknown.err


def test_a_draft_flow_can_be_tried_before_it_goes_live(ivr, flow_dir: Path) -> None:  # type: ignore[no-untyped-def]
    draft = flow_dir / "draft.yaml"
    text = (flow_dir / "flow.yaml").read_text(encoding="utf-8")
    draft.write_text(text.replace("Русский язык — 2.", "По-русски — нажмите 2.", 1), encoding="utf-8")
    tried = ivr("simulate", "--flow", str(draft), "--keys", "2")
    assert tried.code == 0 and "По-русски — нажмите 2." in tried.out

    draft.write_text(text.replace("goto: anonymity}", "goto: anonimity}", 1), encoding="utf-8")
    broken = ivr("simulate", "--flow", str(draft), "--keys", "2")
    assert broken.code == 1 and "anonimity" in broken.err and "ivr flow check" in broken.err


def test_bad_input_is_refused_before_calling(ivr, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    keys = ivr("simulate", "--keys", "2,x")
    assert keys.code == 2 and "'x' is not a key on a phone" in keys.err
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("hello", encoding="utf-8")
    wav = ivr("simulate", "--keys", "2", "--record", str(not_audio))
    assert wav.code == 2 and "not a PCM WAV" in wav.err


def test_worker_steps_run_on_the_simulated_call(ivr, report_wav: Path) -> None:  # type: ignore[no-untyped-def]
    run = ivr("simulate", "--keys", "2,1,05,3", "--record", str(report_wav), "--worker", transcriber="none")

    assert run.code == 0, run.err
    reference = REFERENCE.search(run.out)
    assert reference
    assert f"Case #1 ({reference.group(1)}): status new" in run.out
    # Downloaded from the stand-in, then deleted there, with the anonymous caller's call log.
    assert "intakes done; deleted at Twilio: 2" in run.out


@pytest.mark.slow
def test_worker_steps_transcribe_with_the_real_model(ivr, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    raw, report = tmp_path / "raw.wav", tmp_path / "report.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw),
                    "The officer asked me for money to sign the papers."], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(report)], check=True)

    run = ivr("simulate", "--keys", "3,1,05,3", "--record", str(report), "--worker",
              transcriber="faster-whisper", model_cache_dir=str(tmp_path / "models"))

    assert run.code == 0, run.err
    assert "transcript done" in run.out
    transcript = re.search(r"Transcript: (.+)", run.out)
    assert transcript and re.search(r"money|officer|papers", transcript.group(1), re.IGNORECASE), run.out


def test_media_stand_in_serves_at_a_configured_loopback_api_base(make_settings) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = make_settings(twilio_api_base=f"http://127.0.0.1:{port}")
    with Sandbox(settings, with_media=True, quiet=True) as sandbox:
        assert sandbox.settings.twilio_api_base == f"http://127.0.0.1:{port}"
        assert sandbox.media is not None and sandbox.media.base_url == f"http://127.0.0.1:{port}"
        result = sandbox.call(ScriptedCaller(["2", "1", "05", "3"], wav_recording(make_wav(4), "r.wav")))
        (sid,) = result.recordings
        import requests

        media = f"http://127.0.0.1:{port}/2010-04-01/Accounts/{sandbox.settings.twilio_account_sid}/Recordings/{sid}"
        token = sandbox.settings.twilio_auth_token.get_secret_value()
        assert requests.get(media + ".wav", timeout=5).status_code == 401
        got = requests.get(media + ".wav", auth=(sandbox.settings.twilio_account_sid, token), timeout=5)
        assert got.status_code == 200 and got.content == make_wav(4)


def test_keys_script_and_recordings() -> None:
    assert parse_keys("2, 1 ,05,,say:Алматы,hangup") == ["2", "1", "05", "", "say:Алматы", "hangup"]
    assert parse_keys("") == []
    caller = ScriptedCaller(["", "say:Астана", "87011234567#"])
    prompt = GatherPrompt(None, "#", True, 5)
    assert caller.gather(prompt) is None
    assert caller.gather(prompt) == Speech("Астана")
    assert caller.gather(prompt) == "87011234567#"
    assert caller.gather(prompt).__class__.__name__ == "HangUp"
    assert tone_recording(3).duration_s == 3 and wav_recording(make_wav(7)).duration_s == 7
    with pytest.raises(ValueError, match="holds no audio"):
        wav_recording(make_wav(0))
