"""`python -m bench.transcription --engines-only --corpus DIR`: each engine's RTF, verdict and WER."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.settings import Settings
from tests.workers.onnx_asr_model import WORDS, build_gigaam_ctc
from tests.workers.test_speech_engines import tones
from tests.workers.test_transcriber import needs_speech_tools
from workers.models_cli import install_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@needs_speech_tools
def test_bench_reports_rtf_and_wer_per_engine_and_says_where_no_weights_are(tmp_path: Path) -> None:
    config = tmp_path / "speech.yaml"
    config.write_text("languages:\n  ru:\n    engine: onnx-asr\n    model: tiny-ctc\n")
    settings = Settings(models_dir=tmp_path / "models", speech_config_path=config)
    install_model(settings, build_gigaam_ctc(tmp_path / "download"), engine="onnx-asr", name="tiny-ctc",
                  model_type="gigaam-v3-ctc", language="ru", checksums=[])
    corpus = tmp_path / "corpus" / "ru"
    corpus.mkdir(parents=True)
    (corpus / "one.wav").write_bytes(tones(("low", 1.0), ("quiet", 0.5), ("high", 1.0)))
    (corpus / "one.txt").write_text(f"{WORDS['low'].capitalize()}, {WORDS['high']}!")  # a perfect hearing
    (corpus / "two.wav").write_bytes(tones(("low", 1.0)))
    (corpus / "two.txt").write_text(f"{WORDS['low']} {WORDS['high']}")  # one word of four missed in all
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env.update(IVR_MODELS_DIR=str(tmp_path / "models"), IVR_SPEECH_CONFIG_PATH=str(config),
               IVR_MODEL_CACHE_DIR=str(tmp_path / "cache"), IVR_TRANSCRIBE_THREADS="1", PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-m", "bench.transcription", "--engines-only", "--languages", "ru,kk",
         "--corpus", str(tmp_path / "corpus")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=True,
    ).stdout
    rows = {line.split()[1]: line.split() for line in out.splitlines() if line.startswith(("ru ", "kk "))}
    assert rows["onnx-asr:tiny-ctc"][-2:] == ["25.0%", "2"], out  # 1 of 4 reference words missed
    assert float(rows["onnx-asr:tiny-ctc"][4]) < 1.0  # faster than real time
    assert "no weights installed for kk beyond the bundled Whisper base" in out
