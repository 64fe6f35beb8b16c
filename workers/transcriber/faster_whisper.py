"""Whisper through faster-whisper (CTranslate2) on the CPU, with guards against runaway decoding.

The bundled model is Whisper base: good on clear English, weak on Russian and Kazakh, and on
garbled audio it can repeat itself up to its token limit, slower than real time. So:

- the language is passed explicitly (no detection);
- silence and noise are cut first (Silero VAD), and each window is decoded on its own
  (`condition_on_previous_text=False`), so one bad window cannot poison the next;
- a small beam (greedy for Kazakh), repetition blocked (`no_repeat_ngram_size`), and a window
  whose text compresses too well or scores too low is retried at most once, warmer
  (`temperatures`);
- a window may produce at most `tokens_per_s` tokens per second of audio;
- the whole call has a time budget proportional to the audio's length, with a floor and a cap
  (`timeout_s`): segments are pulled one by one from faster-whisper's lazy generator, and before
  each new window we stop if a window as slow as the slowest so far would overrun the budget.
  A window cannot be interrupted, so the first call of a fresh transcriber may overrun by one
  window (bounded by the token limit, the beam and the two temperatures); later calls weigh
  even their first window with the cost seen before;
- audio is decoded and transcribed in chunks of `chunk_s` seconds (60: faster-whisper's VAD and
  features grow with the chunk, and a minute keeps a 60-minute call within 1.4x the peak memory
  of a 1-minute one; bench/README.md), so memory stays flat
  however long the recording is.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from workers.audio import BadAudio, iter_pcm
from workers.transcriber import LANGUAGES, Language, Segment, Transcript, TranscriptionFailed
from workers.transcriber.verdict import speech_seconds

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
WINDOW_S = 30.0  # Whisper hears 30 s at a time
MAX_NEW_TOKENS = 440  # Whisper's decoder holds 448 positions, a few of them for the prompt

# Kazakh in Whisper's byte-level BPE costs about twice the tokens per second of Russian or
# English, and a beam of 2 left it barely 2x faster than real time on two cores; greedy brings
# it back to about the cost of the others per second of audio (figures: bench/README.md).
DEFAULT_BEAM_SIZES: dict[str, int] = {"en": 2, "ru": 2, "kk": 1}

_models: dict[tuple[str, str, int], WhisperModel] = {}
_models_lock = threading.Lock()


def load_model(model_dir: Path, *, compute_type: str = "int8", cpu_threads: int = 0) -> WhisperModel:
    """The model in `model_dir`, loaded once per process and shared (workers are long-running)."""
    model_dir = Path(model_dir).resolve()
    threads = cpu_threads or len(os.sched_getaffinity(0))
    cache_key = (str(model_dir), compute_type, threads)
    with _models_lock:
        model = _models.get(cache_key)
        if model is None:
            if not (model_dir / "model.bin").is_file():
                # A folder, never a hub name: faster-whisper would try to download anything else.
                raise TranscriptionFailed(f"no CTranslate2 model in {model_dir}")
            from faster_whisper import WhisperModel

            model = WhisperModel(
                str(model_dir),
                device="cpu",
                compute_type=compute_type,
                cpu_threads=threads,
                num_workers=1,
                local_files_only=True,
            )
            _models[cache_key] = model
        return model


class FasterWhisperTranscriber:
    """A CTranslate2 Whisper model on the CPU, bounded in time and memory."""

    engine = "faster-whisper"

    def __init__(
        self,
        model_dir: Path,
        *,
        cpu_threads: int = 0,
        compute_type: str = "int8",
        timeout_s: float = 600.0,
        budget_ratio: float = 1.5,
        budget_floor_s: float = 20.0,
        beam_sizes: Mapping[str, int] | None = None,
        temperatures: tuple[float, ...] = (0.0, 0.6),
        no_repeat_ngram_size: int = 6,
        tokens_per_s: float = 20.0,
        chunk_s: float = 60.0,
        detect_language: bool = True,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.cpu_threads = cpu_threads
        self.compute_type = compute_type
        self.timeout_s = timeout_s
        self.budget_ratio = budget_ratio
        self.budget_floor_s = budget_floor_s
        self.beam_sizes = {**DEFAULT_BEAM_SIZES, **(beam_sizes or {})}
        self.temperatures = temperatures
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self.tokens_per_s = tokens_per_s
        self.chunk_s = chunk_s
        self.detect_language = detect_language
        # What one window has cost lately, so even a call's first window is weighed against the
        # budget (a moving average over calls; 0 until this transcriber has decoded something).
        self._window_cost_s = 0.0

    @property
    def model_name(self) -> str:
        """The model's folder name, e.g. whisper-base."""
        return self.model_dir.resolve().name

    def budget_s(self, audio_s: float) -> float:
        """Seconds allowed to transcribe `audio_s` seconds of audio: proportional, floored, capped."""
        return min(self.timeout_s, max(self.budget_floor_s, audio_s * self.budget_ratio))

    def max_new_tokens(self, audio_s: float) -> int:
        """Tokens one window of a chunk of `audio_s` seconds may produce (loops stop here)."""
        window_s = min(audio_s, WINDOW_S)
        return max(16, min(MAX_NEW_TOKENS, math.ceil(window_s * self.tokens_per_s) + 8))

    def load(self) -> WhisperModel:
        """Load the model now (it is cached per process), e.g. when a worker starts."""
        return load_model(self.model_dir, compute_type=self.compute_type, cpu_threads=self.cpu_threads)

    def transcribe(self, audio: BinaryIO | bytes, *, language: Language) -> Transcript:
        """The transcript of `audio` in `language`, within `budget_s` of its length."""
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}")
        started = time.monotonic()
        model = self.load()
        segments: list[Segment] = []
        audio_s = speech_s = 0.0
        detected: tuple[str, float] | None = None
        slowest_step_s = self._window_cost_s
        is_truncated = False
        try:
            for pcm in iter_pcm(audio, sample_rate=SAMPLE_RATE, chunk_s=self.chunk_s):
                offset_s = audio_s
                chunk_s = pcm.size / SAMPLE_RATE
                audio_s += chunk_s
                speech_s += speech_seconds(pcm, SAMPLE_RATE)
                if detected is None and self.detect_language:
                    detected = self._detect(model, pcm)
                if is_truncated:
                    continue  # keep decoding (cheap) only to learn the full duration
                deadline = started + self.budget_s(audio_s)
                pieces = iter(self._segments(model, pcm, language, chunk_s))
                while True:
                    step_started = time.monotonic()
                    # The next window could take as long as the slowest one so far.
                    if step_started + slowest_step_s > deadline:
                        is_truncated = True
                        break
                    piece = next(pieces, None)
                    step_s = time.monotonic() - step_started
                    slowest_step_s = max(slowest_step_s, step_s)
                    if step_s > 0.05:  # a step that decoded a window, not one handing out its segments
                        seen = self._window_cost_s or step_s
                        self._window_cost_s = 0.7 * seen + 0.3 * step_s
                    if piece is None:
                        break
                    text = piece.text.strip()
                    if text:
                        segments.append(
                            Segment(
                                round(offset_s + piece.start, 3),
                                round(offset_s + piece.end, 3),
                                text,
                                float(piece.avg_logprob),
                            )
                        )
        except BadAudio as error:
            raise TranscriptionFailed(f"audio is not decodable: {error}") from None
        except (RuntimeError, ValueError, OSError) as error:
            raise TranscriptionFailed(f"the model failed: {type(error).__name__}") from error
        if is_truncated:
            log.warning(
                "transcript.truncated",
                extra={"audio_s": round(audio_s, 1), "elapsed_s": round(time.monotonic() - started, 1)},
            )
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
            detected_language=detected[0] if detected else None,
            language_probability=detected[1] if detected else None,
        )

    def _detect(self, model: WhisperModel, pcm: Any) -> tuple[str, float] | None:
        """What language Whisper hears in the chunk's speech (for the verdict only; never imposed)."""
        try:
            # One encoder pass over the first 30 s of speech; a minute of audio is enough to find it.
            language, probability, _ = model.detect_language(pcm[: 60 * SAMPLE_RATE], vad_filter=True)
        except (RuntimeError, ValueError, IndexError):
            return None  # no speech to judge: the verdict's VAD says so on its own
        return str(language), round(float(probability), 3)

    def _segments(self, model: WhisperModel, pcm: Any, language: Language, chunk_s: float) -> Any:
        """faster-whisper's lazy segment generator for one chunk, with our guards set."""
        pieces, _info = model.transcribe(
            pcm,
            language=language,
            task="transcribe",
            beam_size=self.beam_sizes.get(language, 1),
            best_of=2,
            temperature=list(self.temperatures),
            compression_ratio_threshold=2.4,
            log_prob_threshold=-1.0,
            no_speech_threshold=0.6,
            condition_on_previous_text=False,
            no_repeat_ngram_size=self.no_repeat_ngram_size,
            max_new_tokens=self.max_new_tokens(chunk_s),
            vad_filter=True,
        )
        return pieces


def confidence_of(segments: list[Segment]) -> float | None:
    """exp of the duration-weighted mean of the segments' average token log-probability.

    That is the geometric mean of the per-token probabilities the decoder gave its own text:
    1.0 is certain; clear English from this model scores about 0.7, garbled audio under 0.4.
    None when there is no text to judge.
    """
    scored = [(max(s.end_s - s.start_s, 0.01), s.avg_logprob) for s in segments if s.avg_logprob is not None]
    if not scored:
        return None
    total = sum(weight for weight, _ in scored)
    mean = sum(weight * logprob for weight, logprob in scored) / total
    return round(math.exp(min(mean, 0.0)), 4)
