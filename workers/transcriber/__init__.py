"""Speech to text on our own machines (never a cloud API), behind one small Protocol.

A transcriber is told the caller's language (the one they chose in the menu) and never detects
it: detection on a few seconds of telephone audio guesses wrong, and Kazakh is often taken for
Russian. It must return within a time budget whatever the audio holds; on garbled audio the
result may be short or empty and marked `is_truncated`, which beats a worker stuck for an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Literal, Protocol

if TYPE_CHECKING:
    from ivr.settings import Settings
    from ivr.speech_config import LanguageModel, SpeechConfig

Language = Literal["kk", "ru", "en"]
LANGUAGES: tuple[Language, ...] = ("kk", "ru", "en")


class TranscriptionFailed(Exception):
    """No transcript could be made: undecodable audio, or the model failed to load or run."""


@dataclass(frozen=True)
class Segment:
    """A stretch of speech and its text; times in seconds from the start of the recording."""

    start_s: float
    end_s: float
    text: str
    avg_logprob: float | None = None


@dataclass(frozen=True)
class Transcript:
    """What the model heard, and how far to trust it.

    `confidence` is in (0, 1], or None when there is no text. `is_truncated` means the time
    budget ran out before the end of the audio: the text covers only its beginning.
    """

    language: Language
    segments: tuple[Segment, ...]
    text: str
    confidence: float | None
    engine: str
    model: str
    duration_s: float
    is_truncated: bool
    speech_s: float | None = None
    """Seconds of the audio that carry speech by an energy VAD (verdict.speech_seconds)."""
    detected_language: str | None = None
    """The language the engine heard, where it tells one (never used to choose the model)."""
    language_probability: float | None = None


class Transcriber(Protocol):
    """Turns a recording into a Transcript in the given language, within a bounded time."""

    def transcribe(self, audio: BinaryIO | bytes, *, language: Language) -> Transcript:
        """The transcript of `audio` in `language`; TranscriptionFailed if none can be made."""
        ...


def make_transcriber(settings: Settings) -> Transcriber | None:
    """The transcriber the settings name, or None when transcription is switched off.

    Each language gets the engine and model config/speech.yaml names (IVR_SPEECH_CONFIG_PATH),
    the bundled Whisper base (or IVR_MODEL_DIR) when none; a model loads on its first
    transcription, or with `SpeechRouter.load()`, once per process.
    """
    if settings.transcriber == "none":
        return None
    from ivr.speech_config import load_speech_config

    return SpeechRouter(settings, load_speech_config(settings.speech_config_path))


class SpeechRouter:
    """One transcriber per language as config/speech.yaml says; the bundled Whisper for the rest."""

    def __init__(self, settings: Settings, config: SpeechConfig) -> None:
        self.settings = settings
        self.config = config
        self._by_language: dict[str, Transcriber] = {}

    def for_language(self, language: Language) -> Transcriber:
        """The transcriber that hears `language` (built once)."""
        if language not in self._by_language:
            self._by_language[language] = build_transcriber(self.settings, self.config.languages.get(language))
        return self._by_language[language]

    def load(self) -> None:
        """Load every configured model now (a worker at start), so no caller waits for it."""
        for language in LANGUAGES:
            transcriber = self.for_language(language)
            load = getattr(transcriber, "load", None)
            if load is not None:
                load()

    def transcribe(self, audio: BinaryIO | bytes, *, language: Language) -> Transcript:
        """The transcript of `audio` by the model chosen for `language`."""
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}")
        return self.for_language(language).transcribe(audio, language=language)


def build_transcriber(settings: Settings, chosen: LanguageModel | None) -> Transcriber:
    """The transcriber for one config entry; None: the bundled Whisper base (or IVR_MODEL_DIR)."""
    from ivr.speech_config import model_path, models_dir_of, read_manifest
    from workers.transcriber.faster_whisper import FasterWhisperTranscriber

    # Stop on our own a little before the job's hard limit (transcribe_timeout_s): a window
    # in progress cannot be interrupted, and a truncated transcript beats none.
    timeout_s = 0.9 * settings.transcribe_timeout_s
    if chosen is None:
        from workers.transcriber.bundled_model import bundled_model_dir

        model_dir = settings.model_dir or bundled_model_dir(settings.model_cache_dir)
        return FasterWhisperTranscriber(model_dir, cpu_threads=settings.transcribe_threads, timeout_s=timeout_s)
    folder = model_path(models_dir_of(settings), chosen.model)
    options = dict(chosen.options)
    if chosen.engine == "faster-whisper":
        beam_size = options.pop("beam_size", None)
        return FasterWhisperTranscriber(
            folder,
            cpu_threads=settings.transcribe_threads,
            timeout_s=timeout_s,
            beam_sizes={language: int(beam_size) for language in LANGUAGES} if beam_size else None,
            **options,
        )
    from workers.transcriber.onnx_engine import OnnxAsrTranscriber

    manifest = read_manifest(folder)
    model_type = chosen.type or (manifest.type if manifest else None)
    if not model_type:
        raise TranscriptionFailed(f"model {chosen.model}: say its onnx-asr type (type: in config/speech.yaml)")
    return OnnxAsrTranscriber(
        folder,
        model_type,
        quantization=chosen.quantization,
        cpu_threads=settings.transcribe_threads,
        timeout_s=timeout_s,
        name=chosen.model,
        **options,
    )
