"""Why a job failed, in words fit for operators: our errors carry ids and counts, never caller data."""

from __future__ import annotations

from rq import get_current_job

from ivr.logging import scrub
from ivr.storage import RecordingConflict, RecordingMissing
from workers import download
from workers.audio import BadAudio, VoiceDisguiseUnavailable
from workers.transcriber import TranscriptionFailed


class AudioMismatch(Exception):
    """Kept for old failure records: a length disagreement is now logged, never an error."""


class RecordingLost(Exception):
    """Our stored copy is gone and Twilio's was already deleted: a person must look."""


class TranscriptionTimeout(Exception):
    """The speech model took longer than the configured limit."""


# Our own exceptions (and download's) carry only SIDs, ids and counts, so their text may be
# shown to operators; anything else is reduced to its class name.
_SAFE_ERRORS: tuple[type[BaseException], ...] = (
    download.DownloadError,
    BadAudio,
    AudioMismatch,
    RecordingLost,
    RecordingMissing,
    RecordingConflict,
    TranscriptionFailed,
    TranscriptionTimeout,
    VoiceDisguiseUnavailable,
)


def describe_error(error: BaseException) -> str:
    """A one-line reason fit for operators and logs: never a URL with secrets, a number or text."""
    if isinstance(error, _SAFE_ERRORS):
        return str(scrub(f"{type(error).__name__}: {error}"))[:500]
    return f"{type(error).__name__} (details in the worker log)"


def is_last_attempt() -> bool:
    """Whether the running job has no RQ retries left (outside RQ every run is the last)."""
    job = get_current_job()
    return job is None or not job.retries_left
