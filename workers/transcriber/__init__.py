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


class Transcriber(Protocol):
    """Turns a recording into a Transcript in the given language, within a bounded time."""

    def transcribe(self, audio: BinaryIO | bytes, *, language: Language) -> Transcript:
        """The transcript of `audio` in `language`; TranscriptionFailed if none can be made."""
        ...


def make_transcriber(settings: Settings) -> Transcriber | None:
    """The transcriber the settings name, or None when transcription is switched off.

    The model itself loads on the first transcription, once per process.
    """
    if settings.transcriber == "none":
        return None
    from workers.transcriber.bundled_model import bundled_model_dir
    from workers.transcriber.faster_whisper import FasterWhisperTranscriber

    model_dir = settings.model_dir or bundled_model_dir(settings.model_cache_dir)
    return FasterWhisperTranscriber(
        model_dir,
        cpu_threads=settings.transcribe_threads,
        # Stop on our own a little before the job's hard limit (transcribe_timeout_s): a window
        # in progress cannot be interrupted, and a truncated transcript beats none.
        timeout_s=0.9 * settings.transcribe_timeout_s,
    )
