"""A verdict on every transcript: reliable, unreliable (with reasons) or no speech.

The real bundled Whisper on espeak-ng speech (clean and garbled) and on silence; the real
onnx-asr path (a tiny model built here) through the worker into a case and onto the console.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import select

from ivr.models import Case, Transcript
from ivr.settings import Settings
from tests.operator.console import Console, sign_in
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.workers.onnx_asr_model import WORDS, build_gigaam_ctc
from tests.workers.test_jobs_support import add_intake, run_jobs
from tests.workers.test_speech_engines import tones
from tests.workers.test_transcriber import ENGLISH, KAZAKH, RUSSIAN, garble, needs_speech_tools, speak, to_wav
from workers.deps import WorkerDeps, set_worker_deps
from workers.models_cli import install_model
from workers.transcriber.bundled_model import bundled_model_dir
from workers.transcriber.faster_whisper import FasterWhisperTranscriber
from workers.transcriber.verdict import has_loop, judge, judge_transcript, speech_seconds, words_of

pytestmark = pytest.mark.usefixtures("fast_password_hashes")
TEXTS = {"en": ENGLISH, "ru": RUSSIAN, "kk": KAZAKH}


# ---------------------------------------------------------------- the rules


def test_a_loop_is_unreliable() -> None:
    looped = " ".join(["Но это не может быть."] * 11)
    verdict = judge(text=looped, confidence=0.8, duration_s=30, speech_s=25, is_truncated=False,
                    expected_language="ru")
    assert (verdict.label, verdict.reasons) == ("unreliable", ("repetition",))
    assert has_loop(["да"] * 5) and not has_loop(["да"] * 3)
    assert not has_loop(words_of("Я заплатил ему деньги, и он взял деньги у меня в кабинете."))


def test_plain_speech_is_reliable_and_each_doubt_has_its_reason() -> None:
    plain = "Сотрудник акимата потребовал взятку за выдачу справки."
    common = {"duration_s": 6.0, "speech_s": 5.0, "expected_language": "ru"}
    assert judge(text=plain, confidence=0.8, is_truncated=False, **common).label == "reliable"  # type: ignore[arg-type]
    doubtful = judge(text=plain, confidence=0.3, is_truncated=True, detected_language="kk",
                     language_probability=0.9, **common)  # type: ignore[arg-type]
    assert doubtful.reasons == ("low_confidence", "language_mismatch", "truncated")
    unsure_language = judge(text=plain, confidence=0.8, is_truncated=False, detected_language="kk",
                            language_probability=0.2, **common)  # type: ignore[arg-type]
    assert unsure_language.label == "reliable"  # a guess that unsure says nothing
    invented = judge(text="слово " * 40, confidence=0.8, is_truncated=False, duration_s=6.0, speech_s=2.0,
                     expected_language="ru")
    assert "too_many_words" in invented.reasons
    silent = judge(text="Продолжение следует...", confidence=0.7, duration_s=30, speech_s=0.1,
                   is_truncated=False, expected_language="ru")
    assert (silent.label, silent.reasons) == ("no_speech", ("no_speech", "text_without_speech"))


def test_energy_vad_counts_speech_not_silence_or_steady_noise() -> None:
    rate = 8000
    t = np.arange(rate * 4) / rate
    hum = 0.01 * np.sin(2 * np.pi * 50 * t)
    voice = np.where((t > 1) & (t < 3), 0.3 * np.sin(2 * np.pi * 300 * t), 0.0)
    assert speech_seconds((hum + voice).astype(np.float32), rate) == pytest.approx(2.0, abs=0.1)
    assert speech_seconds(np.zeros(rate * 4, dtype=np.float32), rate) == 0.0
    noise = np.random.default_rng(3).standard_normal(rate * 4).astype(np.float32) * 0.05
    assert speech_seconds(noise, rate) < 0.2


# ---------------------------------------------------------------- the real Whisper


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> FasterWhisperTranscriber:
    """The bundled Whisper base, as the workers run it for a language with nothing configured."""
    return FasterWhisperTranscriber(bundled_model_dir(tmp_path_factory.mktemp("models")), timeout_s=120)


@pytest.mark.slow
@needs_speech_tools
@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_garbled_recordings_are_unreliable(whisper: FasterWhisperTranscriber, language: str, tmp_path: Path) -> None:
    # Today's "text-like garbage at confidence 0.47" now says so: low confidence, and more words
    # than the little speech the VAD finds in it.
    result = whisper.transcribe(garble(speak(TEXTS[language], language, tmp_path)), language=language)  # type: ignore[arg-type]
    verdict = judge_transcript(result)
    assert verdict.label in ("unreliable", "no_speech"), (result.text, result.confidence, verdict)
    assert verdict.reasons


@pytest.mark.slow
@needs_speech_tools
def test_clear_english_is_reliable(whisper: FasterWhisperTranscriber, tmp_path: Path) -> None:
    result = whisper.transcribe(speak(ENGLISH, "en", tmp_path), language="en")
    assert judge_transcript(result).label == "reliable", (result.text, result.confidence)
    assert result.detected_language == "en"


@pytest.mark.slow
def test_silence_is_no_speech(whisper: FasterWhisperTranscriber) -> None:
    result = whisper.transcribe(to_wav(np.zeros(16000 * 8)), language="ru")
    verdict = judge_transcript(result)
    assert (verdict.label, verdict.speech_ratio) == ("no_speech", 0.0)


# ---------------------------------------------------------------- onnx-asr through the worker into a case


@pytest.fixture
def onnx_deps(worker_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[WorkerDeps]:
    """Worker deps built from settings alone, with Russian heard by an installed onnx-asr model."""
    config = tmp_path / "speech.yaml"
    config.write_text("languages:\n  ru:\n    engine: onnx-asr\n    model: gigaam-v3-ctc\n")
    settings = worker_settings(
        transcriber="faster-whisper", models_dir=tmp_path / "models", speech_config_path=config,
        transcribe_threads=1,
    )
    install_model(settings, build_gigaam_ctc(tmp_path / "download"), engine="onnx-asr", name="gigaam-v3-ctc",
                  model_type=None, language="ru", checksums=[])
    built = WorkerDeps.from_settings(settings)
    set_worker_deps(built)
    yield built
    set_worker_deps(None)
    built.close()


def test_onnx_asr_transcript_and_verdict_reach_the_case_and_the_console(
    onnx_deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    spoken = add_intake(onnx_deps, fake_api, audio=tones(("quiet", 0.5), ("low", 1.5), ("quiet", 0.5)),
                        duration_s=2, language="ru")
    silent = add_intake(onnx_deps, fake_api, audio=tones(("quiet", 4.0)), duration_s=4, language="ru")
    run_jobs(onnx_deps.queue, timeout_s=60)
    with onnx_deps.sessions() as session:
        heard = session.scalars(select(Transcript).where(Transcript.intake_id == spoken)).one()
        nothing = session.scalars(select(Transcript).where(Transcript.intake_id == silent)).one()
        silent_case = session.scalars(select(Case).join(Case.call).where(Case.call_id == nothing.intake.call_id)).one()
        silent_case_id = silent_case.id
    assert (heard.status, heard.text, heard.engine, heard.model) == ("done", WORDS["low"], "onnx-asr", "gigaam-v3-ctc")
    assert (heard.verdict, heard.verdict_reasons) == ("reliable", [])
    assert heard.speech_ratio == pytest.approx(0.6, abs=0.1)
    assert (nothing.status, nothing.text, nothing.verdict, nothing.verdict_reasons) == (
        "done", "", "no_speech", ["no_speech"]
    )

    from ivr.app import create_app

    app: Flask = create_app(onnx_deps.settings)
    app.config["TESTING"] = True
    try:
        Console(app).add_user("aigerim", regions=["02"])
        client = app.test_client()
        assert sign_in(client, "aigerim").status_code == 302
        page = client.get(f"/operator/cases/{silent_case_id}", headers={"Accept-Language": "ru"}).get_data(as_text=True)
        assert "Нет речи — прослушайте" in page and "в записи почти нет речи" in page
        queue = client.get("/operator/", headers={"Accept-Language": "ru"}).get_data(as_text=True)
        assert queue.count("Нет речи — прослушайте") == 1
    finally:
        app.extensions["ivr"].close()
