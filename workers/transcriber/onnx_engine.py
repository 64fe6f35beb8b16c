"""onnx-asr models on the CPU: GigaAM v3 and Multilingual, T-one, NeMo FastConformer, Vosk exports.

A model folder is what onnx-asr reads offline (`onnx_asr.load_model(type, folder)`), e.g. for
GigaAM v3 CTC: config.json, v3_ctc.onnx and v3_vocab.txt. We never pass a hub name without an
existing folder: onnx-asr would try to download it.

These models hear at most some tens of seconds at once, so the recording is decoded in chunks
of `chunk_s` seconds cut at the quietest moment near each boundary (workers.audio.iter_pcm),
each chunk handed to onnx-asr at the recording's own rate (8 kHz from a telephone: onnx-asr
resamples it for the model). Memory stays flat however long the call; a time budget
proportional to the audio stops at a chunk boundary and marks the transcript truncated.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from workers.audio import BadAudio, inspect_audio, iter_pcm
from workers.transcriber import LANGUAGES, Language, Segment, Transcript, TranscriptionFailed
from workers.transcriber.faster_whisper import confidence_of
from workers.transcriber.verdict import speech_seconds

_models: dict[tuple[str, str, str | None, int], Any] = {}
_models_lock = threading.Lock()
NATIVE_RATES = (8000, 16000)


def load_onnx_model(model_dir: Path, model_type: str, *, quantization: str | None = None, cpu_threads: int = 0) -> Any:
    """onnx-asr's recogniser (with timestamps and token log-probabilities), once per process."""
    model_dir = Path(model_dir).resolve()
    threads = cpu_threads or len(os.sched_getaffinity(0))
    key = (str(model_dir), model_type, quantization, threads)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            if not model_dir.is_dir():
                raise TranscriptionFailed(f"no onnx-asr model folder {model_dir}")
            import onnx_asr
            import onnxruntime as rt  # type: ignore[import-untyped]

            options = rt.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            try:
                model = onnx_asr.load_model(
                    model_type, model_dir, quantization=quantization,
                    sess_options=options, providers=["CPUExecutionProvider"],
                ).with_timestamps()
            except (OSError, ValueError, RuntimeError) as error:
                raise TranscriptionFailed(f"onnx-asr could not load {model_dir.name}: {error}") from None
            _models[key] = model
        return model


class OnnxAsrTranscriber:
    """An onnx-asr model, chunked and bounded in time."""

    engine = "onnx-asr"

    def __init__(
        self,
        model_dir: Path,
        model_type: str,
        *,
        quantization: str | None = None,
        cpu_threads: int = 0,
        timeout_s: float = 600.0,
        budget_ratio: float = 1.5,
        budget_floor_s: float = 20.0,
        chunk_s: float = 20.0,
        name: str | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.model_type = model_type
        self.quantization = quantization
        self.cpu_threads = cpu_threads
        self.timeout_s = timeout_s
        self.budget_ratio = budget_ratio
        self.budget_floor_s = budget_floor_s
        self.chunk_s = chunk_s
        self.model_name = name or self.model_dir.resolve().name

    def budget_s(self, audio_s: float) -> float:
        """Seconds allowed to transcribe `audio_s` seconds of audio: proportional, floored, capped."""
        return min(self.timeout_s, max(self.budget_floor_s, audio_s * self.budget_ratio))

    def load(self) -> Any:
        """Load the model now (cached per process)."""
        return load_onnx_model(
            self.model_dir, self.model_type, quantization=self.quantization, cpu_threads=self.cpu_threads
        )

    def transcribe(self, audio: BinaryIO | bytes, *, language: Language) -> Transcript:
        """The transcript of `audio`; the model hears the language it was trained on."""
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}")
        started = time.monotonic()
        model = self.load()
        rate = 16000
        if isinstance(audio, bytes | bytearray):
            try:
                source_rate = inspect_audio(bytes(audio)).sample_rate
            except BadAudio as error:
                raise TranscriptionFailed(f"audio is not decodable: {error}") from None
            rate = source_rate if source_rate in NATIVE_RATES else 16000
        segments: list[Segment] = []
        audio_s = speech_s = 0.0
        slowest_s = 0.0
        is_truncated = False
        try:
            for pcm in iter_pcm(audio, sample_rate=rate, chunk_s=self.chunk_s, search_s=min(4.0, self.chunk_s / 4)):
                offset_s = audio_s
                audio_s += pcm.size / rate
                speech_s += speech_seconds(pcm, rate)
                if is_truncated:
                    continue  # decoding on (cheap) only to learn the full length
                step_started = time.monotonic()
                if step_started + slowest_s > started + self.budget_s(audio_s):
                    is_truncated = True
                    continue
                result = model.recognize(pcm, sample_rate=rate)
                slowest_s = max(slowest_s, time.monotonic() - step_started)
                text = result.text.strip()
                if text:
                    logprobs = result.logprobs or []
                    times = result.timestamps or [0.0]
                    segments.append(
                        Segment(
                            round(offset_s + float(times[0]), 3),
                            round(offset_s + pcm.size / rate, 3),
                            text,
                            sum(logprobs) / len(logprobs) if logprobs else None,
                        )
                    )
        except BadAudio as error:
            raise TranscriptionFailed(f"audio is not decodable: {error}") from None
        except (RuntimeError, ValueError, OSError, AssertionError) as error:
            raise TranscriptionFailed(f"the model failed: {type(error).__name__}") from error
        return Transcript(
            language=language,
            segments=tuple(segments),
            text=" ".join(segment.text for segment in segments),
            confidence=confidence_of(segments),
            engine=self.engine,
            model=self.model_name,
            duration_s=round(audio_s, 3),
            is_truncated=is_truncated,
            speech_s=round(speech_s, 2),
        )
