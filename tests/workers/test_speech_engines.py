"""Speech engines per language: config/speech.yaml, `ivr model add|list|check`, onnx-asr for real.

onnx-asr runs on a tiny GigaAM-v3-CTC-shaped model built here (tests/workers/onnx_asr_model.py):
onnx-asr's own folder resolution, config, vocabulary, 8 -> 16 kHz resampler, GigaAM log-mel
preprocessor and CTC decoding all run; only the network's weights are ours.
"""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ivr.cli import main as ivr_main
from ivr.settings import Settings
from ivr.speech_config import (
    MANIFEST,
    SpeechConfigError,
    load_speech_config,
    model_problem,
    speech_problems,
)
from tests.workers.onnx_asr_model import WORDS, build_gigaam_ctc
from workers.models_cli import ModelRefused, install_model, time_model
from workers.transcriber import SpeechRouter, TranscriptionFailed, make_transcriber
from workers.transcriber.faster_whisper import FasterWhisperTranscriber
from workers.transcriber.onnx_engine import OnnxAsrTranscriber

RATE = 8000


def tones(*parts: tuple[str, float], rate: int = RATE) -> bytes:
    """A telephone WAV of ("low"|"high"|"quiet", seconds) parts: each tone spells one word."""
    pieces = []
    for kind, seconds in parts:
        t = np.arange(int(rate * seconds)) / rate
        if kind == "quiet":
            pieces.append(np.zeros(t.size))
        else:
            pieces.append(0.3 * np.sin(2 * np.pi * (300 if kind == "low" else 3000) * t))
    samples = (np.concatenate(pieces) * 32767).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())
    return out.getvalue()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GigaAM-v3-CTC-shaped export as a deployer would download it."""
    return build_gigaam_ctc(tmp_path_factory.mktemp("download") / "gigaam-v3-onnx")


@pytest.fixture
def speech_settings(tmp_path: Path, exported: Path) -> Settings:
    """Settings whose models folder holds the export, installed for Russian."""
    config = tmp_path / "speech.yaml"
    config.write_text("languages:\n  ru:\n    engine: onnx-asr\n    model: gigaam-v3-ctc\n")
    settings = Settings(models_dir=tmp_path / "models", speech_config_path=config, transcribe_threads=1)
    install_model(settings, exported, engine="onnx-asr", name="gigaam-v3-ctc", model_type=None,
                  language="ru", checksums=[])
    return settings


# ---------------------------------------------------------------- config


def test_missing_config_means_bundled_whisper_for_every_language(tmp_path: Path) -> None:
    assert load_speech_config(tmp_path / "absent.yaml").languages == {}


def test_shipped_config_is_valid() -> None:
    load_speech_config(Path(__file__).resolve().parents[2] / "config" / "speech.yaml")


def test_config_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "speech.yaml"
    path.write_text(
        "languages:\n  ru:\n    engine: onnx-asr\n    model: a\n  kk:\n    engine: vosk-server\n    model: b\n"
    )
    with pytest.raises(SpeechConfigError, match=rf"{path}:6: languages.kk.engine: Input should be"):
        load_speech_config(path)
    path.write_text("languages:\n  de:\n    engine: onnx-asr\n    model: a\n")
    with pytest.raises(SpeechConfigError, match=rf"{path}:2: languages.de"):
        load_speech_config(path)
    path.write_text("languages:\n  ru: [unclosed\n")
    with pytest.raises(SpeechConfigError, match=rf"{path}:3: not valid YAML"):
        load_speech_config(path)


def test_router_gives_each_language_its_engine(speech_settings: Settings, tmp_path: Path) -> None:
    router = make_transcriber(speech_settings.model_copy(update={"model_cache_dir": tmp_path / "cache"}))
    assert isinstance(router, SpeechRouter)
    assert isinstance(router.for_language("ru"), OnnxAsrTranscriber)
    assert isinstance(router.for_language("kk"), FasterWhisperTranscriber)  # nothing configured: bundled
    assert router.for_language("ru") is router.for_language("ru")  # built once


# ---------------------------------------------------------------- onnx-asr, for real


def test_onnx_asr_transcribes_telephone_audio(speech_settings: Settings) -> None:
    router = make_transcriber(speech_settings)
    assert router is not None
    audio = tones(("quiet", 0.5), ("low", 1.0), ("quiet", 0.6), ("high", 1.0), ("quiet", 0.5))
    result = router.transcribe(audio, language="ru")
    assert result.text == f"{WORDS['low']} {WORDS['high']}"
    assert (result.engine, result.model, result.is_truncated) == ("onnx-asr", "gigaam-v3-ctc", False)
    assert result.duration_s == pytest.approx(3.6, abs=0.01)
    assert result.confidence is not None and result.confidence > 0.9
    assert result.speech_s == pytest.approx(2.0, abs=0.2)
    assert result.segments[0].start_s == pytest.approx(0.5, abs=0.1)


def test_onnx_asr_hears_16_khz_audio_too(speech_settings: Settings) -> None:
    router = make_transcriber(speech_settings)
    assert router is not None
    result = router.transcribe(tones(("high", 1.0), ("quiet", 0.5), rate=16000), language="ru")
    assert result.text == WORDS["high"]


def test_onnx_asr_long_recording_is_chunked(speech_settings: Settings, exported: Path) -> None:
    # 60 s of one word every 3 s: chunks of 10 s cut in the quiet, so no word is split or lost.
    audio = tones(*([("low", 1.0), ("quiet", 2.0)] * 20))
    made = OnnxAsrTranscriber(exported, "gigaam-v3-ctc", chunk_s=10, cpu_threads=1)
    result = made.transcribe(audio, language="ru")
    assert result.text.split() == [WORDS["low"]] * 20
    assert len(result.segments) >= 6
    assert result.duration_s == pytest.approx(60, abs=0.01)


def test_onnx_asr_budget_truncates(exported: Path) -> None:
    audio = tones(*([("low", 1.0), ("quiet", 2.0)] * 20))
    hurried = OnnxAsrTranscriber(exported, "gigaam-v3-ctc", chunk_s=5, timeout_s=0.0, budget_floor_s=0.0)
    result = hurried.transcribe(audio, language="ru")
    assert result.is_truncated
    assert result.duration_s == pytest.approx(60, abs=0.01)  # the length is known all the same


def test_onnx_asr_silence_has_no_text(exported: Path) -> None:
    result = OnnxAsrTranscriber(exported, "gigaam-v3-ctc").transcribe(tones(("quiet", 3.0)), language="kk")
    assert (result.text, result.confidence, result.speech_s) == ("", None, 0.0)


def test_onnx_asr_refuses_undecodable_audio_and_a_missing_folder(exported: Path, tmp_path: Path) -> None:
    with pytest.raises(TranscriptionFailed, match="not decodable"):
        OnnxAsrTranscriber(exported, "gigaam-v3-ctc").transcribe(b"RIFF....WAVEjunk", language="ru")
    with pytest.raises(TranscriptionFailed, match="no onnx-asr model folder"):
        OnnxAsrTranscriber(tmp_path / "nothing", "gigaam-v3-ctc").transcribe(tones(("low", 1.0)), language="ru")


# ---------------------------------------------------------------- ivr model add / list / check


def test_model_add_records_checksums_and_times_the_model(speech_settings: Settings, exported: Path) -> None:
    folder = speech_settings.models_dir / "gigaam-v3-ctc"  # type: ignore[operator]
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["engine"] == "onnx-asr" and manifest["type"] == "gigaam-v3-ctc"
    assert sorted(manifest["files"]) == ["config.json", "v3_ctc.onnx", "v3_vocab.txt"]
    assert model_problem(folder, name="gigaam-v3-ctc") is None
    rtf, _text = time_model(speech_settings, "gigaam-v3-ctc", "onnx-asr", "ru")
    assert 0 < rtf < 1


def test_model_add_refuses_a_wrong_published_checksum(tmp_path: Path, exported: Path) -> None:
    settings = Settings(models_dir=tmp_path / "models")
    with pytest.raises(ModelRefused, match="is not the published"):
        install_model(settings, exported, engine="onnx-asr", name="m", model_type=None, language="ru",
                      checksums=["v3_vocab.txt=" + "0" * 64])
    with pytest.raises(ModelRefused, match=r"model\.bin"):
        install_model(settings, exported, engine="faster-whisper", name="m", model_type=None, language="ru",
                      checksums=[])
    assert not (tmp_path / "models" / "m").exists()


def test_a_corrupt_or_missing_model_is_reported_by_name(speech_settings: Settings) -> None:
    config = load_speech_config(speech_settings.speech_config_path)
    models_dir = speech_settings.models_dir
    assert models_dir is not None
    assert speech_problems(config, models_dir) == []
    weights = models_dir / "gigaam-v3-ctc" / "v3_ctc.onnx"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    assert speech_problems(config, models_dir) == [
        "model gigaam-v3-ctc corrupt: v3_ctc.onnx does not match its checksum"
    ]
    weights.unlink()
    assert speech_problems(config, models_dir) == ["model gigaam-v3-ctc corrupt: v3_ctc.onnx missing"]


def test_model_cli_lists_languages_and_checks(
    speech_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IVR_MODELS_DIR", str(speech_settings.models_dir))
    monkeypatch.setenv("IVR_SPEECH_CONFIG_PATH", str(speech_settings.speech_config_path))
    assert ivr_main(["model", "list"]) == 0
    listed = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in listed.splitlines()[1:]}
    assert rows["gigaam-v3-ctc"][1:3] == ["onnx-asr", "gigaam-v3-ctc"]
    assert rows["gigaam-v3-ctc"][-2:] == ["ru", "ok"]
    assert rows["whisper-base"][1] == "faster-whisper" and "kk,en" in rows["whisper-base"]  # the rest
    assert ivr_main(["model", "check"]) == 0
    (speech_settings.models_dir / "gigaam-v3-ctc" / "v3_vocab.txt").write_text("x 0\n")  # type: ignore[operator]
    assert ivr_main(["model", "check"]) == 1
    assert "model gigaam-v3-ctc corrupt: v3_vocab.txt" in capsys.readouterr().err


def test_readyz_names_a_missing_or_corrupt_model(
    make_settings: Callable[..., Settings], tmp_path: Path, exported: Path
) -> None:
    from ivr.app import create_app

    config = tmp_path / "speech.yaml"
    config.write_text("languages:\n  kk:\n    engine: onnx-asr\n    model: gigaam-multilingual-ctc\n")
    settings = make_settings(models_dir=tmp_path / "models", speech_config_path=config)
    app = create_app(settings)
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 200 and response.get_json()["status"] == "degraded"
        speech = response.get_json()["checks"]["speech"]
        assert speech == f"model gigaam-multilingual-ctc missing ({tmp_path / 'models' / 'gigaam-multilingual-ctc'})"
        install_model(settings, exported, engine="onnx-asr", name="gigaam-multilingual-ctc",
                      model_type="gigaam-v3-ctc", language="kk", checksums=[])
        assert app.test_client().get("/readyz").get_json()["checks"]["speech"] == "ok"
        vocab = tmp_path / "models" / "gigaam-multilingual-ctc" / "v3_vocab.txt"
        vocab.write_text(vocab.read_text().replace("мир", "мор"))
        assert app.test_client().get("/readyz").get_json()["checks"]["speech"] == (
            "model gigaam-multilingual-ctc corrupt: v3_vocab.txt does not match its checksum"
        )
    finally:
        app.extensions["ivr"].close()
