"""RQ jobs: one recording becomes one case, exactly once, whatever is retried, raced or killed.

Each job takes an intake id and nothing else. Every step first looks at what an earlier run
(or a racing worker) left, and each write is an insert that ignores duplicates or an update
with a condition, so running a job twice, concurrently, or again after a SIGKILL anywhere
gives one stored file, one case and one audit event per step.

The chain: download (URL built from settings and the RecordingSid, never from a payload) ->
check it is audio of the length Twilio reported -> store it encrypted (and a disguised copy
for anonymous callers) -> open or update the case -> delete it at Twilio once our copy is safe
and the call is over -> transcribe in the caller's language -> notify if urgent.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from rq import Queue, Retry, get_current_job
from rq.job import Job, JobStatus
from sqlalchemy import select, update

from ivr import queueing
from ivr.call_times import settle_call_times
from ivr.cases.opening import insert_once, open_case, record_event, stamp_once, transcript_summary
from ivr.db import utc_now
from ivr.logging import get_logger, scrub
from ivr.models import DONE, FAILED, PROCESSING, QUEUED, Call, Case, Intake, StoredRecording, Transcript
from ivr.storage import RecordingConflict, RecordingMissing
from workers import download
from workers.audio import BadAudio, VoiceDisguiseUnavailable, disguise_voice, inspect_audio
from workers.deps import WorkerDeps, worker_deps
from workers.transcriber import LANGUAGES, Language, TranscriptionFailed
from workers.transcriber.verdict import judge_transcript

log = get_logger(__name__)

MAX_DURATION_DRIFT_S = 2.0  # Twilio rounds RecordingDuration to whole seconds
RELEASE_RECHECK_S = 120
TRANSCRIBE_GRACE_S = 120  # the call status callback normally comes seconds after the hang-up
TRANSCRIBE_JOB = queueing.TRANSCRIBE_INTAKE
RELEASE_JOB = queueing.RELEASE_AT_TWILIO
NOTIFY_JOB = queueing.NOTIFY_URGENT
DISGUISE_JOB = queueing.DISGUISE_INTAKE
JOB_TIMEOUT_S = 1800
RESULT_TTL_S = 24 * 3600
FAILURE_TTL_S = 30 * 24 * 3600
# Jobs in these states will still run; enqueueing the same id again would run it twice.
LIVE_JOB_STATUSES = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}


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


@dataclass(frozen=True)
class Fetched:
    """The verified plain audio of an intake, and where it is stored."""

    audio: bytes
    stored_id: int


# ---------------------------------------------------------------- process_intake


def process_intake(intake_id: int) -> None:
    """Turn one recording into a stored file and a case; safe to run twice or concurrently."""
    deps = worker_deps()
    if not _start(deps, intake_id):
        return
    try:
        store_recording(deps, intake_id)
        case_id = _open_case(deps, intake_id)
        _release_or_schedule(deps, intake_id)
        schedule_transcription(deps, intake_id)
        _finish(deps, intake_id, case_id)
    except Exception as error:
        _record_failure(deps, intake_id, error)
        raise


def _release_or_schedule(deps: WorkerDeps, intake_id: int) -> None:
    """Delete at Twilio now; if Twilio's API fails, try again later (our copy is safe meanwhile)."""
    try:
        release_at_twilio(intake_id, deps=deps)
    except download.DownloadError as error:
        log.warning("recording.delete_postponed", intake_id=intake_id, error=describe_error(error))
        enqueue_once(
            deps.queue, RELEASE_JOB, intake_id, job_id=f"release-{intake_id}",
            delay_s=RELEASE_RECHECK_S, intervals=[RELEASE_RECHECK_S, 600, 3600],
        )


def _start(deps: WorkerDeps, intake_id: int) -> bool:
    """Mark the intake processing and count the attempt; False if there is nothing to do."""
    with deps.sessions.begin() as session:
        intake = session.get(Intake, intake_id)
        if intake is None:
            log.warning("intake.missing", intake_id=intake_id)
            return False
        if intake.status == DONE:
            log.info("intake.already_done", intake_id=intake_id)
            return False
        session.execute(
            update(Intake)
            .where(Intake.id == intake_id)
            .values(status=PROCESSING, attempts=Intake.attempts + 1, updated_at=utc_now())
        )
    log.info("intake.started", intake_id=intake_id)
    return True


def store_recording(deps: WorkerDeps, intake_id: int) -> Fetched:
    """Download, verify and store the recording (once); returns the verified plain audio."""
    with deps.sessions() as session:
        intake = session.get_one(Intake, intake_id)
        call = intake.call
        recording_sid, expected_s, is_anonymous = intake.recording_sid, intake.duration_s, call.is_anonymous
        call_id = call.id
        stored = session.scalars(select(StoredRecording).where(StoredRecording.intake_id == intake_id)).first()
        stored_id, deleted_at_twilio = (stored.id, stored.deleted_at_twilio) if stored else (None, None)
    key = f"intake-{intake_id}/original.wav"
    if deps.store.exists(key):
        # An earlier run stored it (maybe killed before writing the row): use our copy.
        with deps.store.open(key) as handle:
            audio = handle.read()
    elif deleted_at_twilio is not None:
        raise RecordingLost(f"intake {intake_id}: stored copy missing and Twilio's was deleted")
    else:
        audio = download.fetch_recording(
            deps.settings, recording_sid, session=deps.http, retry=download_policy(deps)
        )
    info = inspect_audio(audio)
    # The audio is the truth: a callback's RecordingDuration (-1, 99999, a stale action's) only
    # earns a log line and an audit event; refusing the audio would block the case for good.
    audio_s = round(float(info.duration_s), 1)
    is_mismatch = expected_s is not None and abs(info.duration_s - expected_s) > MAX_DURATION_DRIFT_S
    if is_mismatch:
        log.warning("recording.duration_mismatch", intake_id=intake_id, reported_s=expected_s, audio_s=audio_s)
    put = deps.store.put(key, audio)
    # Read it back: only a copy we have decrypted and compared may replace Twilio's.
    with deps.store.open(key) as handle:
        if hashlib.sha256(handle.read()).hexdigest() != hashlib.sha256(audio).hexdigest():
            raise RecordingLost(f"intake {intake_id}: stored copy does not read back intact")
    disguised_key = None
    if is_anonymous:
        disguised_key = f"intake-{intake_id}/disguised.wav"
        if not deps.store.exists(disguised_key) and not _put_disguise(deps, intake_id, disguised_key, audio):
            disguised_key = None  # the case opens anyway; operators need the supervisor unlock meanwhile
            _schedule_disguise(deps, intake_id)
    if stored_id is not None:
        return Fetched(audio, stored_id)
    with deps.sessions.begin() as session:
        is_new = insert_once(
            session,
            StoredRecording,
            "intake_id",
            intake_id=intake_id,
            storage_key=key,
            disguised_key=disguised_key,
            key_id=put.key_id,
            sha256=put.sha256_plain,
            size=put.size,
            duration_s=float(info.duration_s),
            stored_at=utc_now(),
        )
        stored_id = session.scalars(
            select(StoredRecording.id).where(StoredRecording.intake_id == intake_id)
        ).one()
        if is_new:
            session.execute(
                update(Intake).where(Intake.id == intake_id).values(duration_s=round(info.duration_s))
            )
            if is_mismatch:
                record_event(
                    session, "recording.duration_mismatch", call_id=call_id, intake_id=intake_id,
                    reported_s=expected_s, audio_s=audio_s,
                )
            record_event(
                session,
                "recording.stored",
                call_id=call_id,
                intake_id=intake_id,
                size=put.size,
                duration_s=round(float(info.duration_s), 1),
                has_disguised=disguised_key is not None,
            )
    log.info("recording.stored", intake_id=intake_id, size=put.size)
    return Fetched(audio, stored_id)


def _put_disguise(deps: WorkerDeps, intake_id: int, key: str, audio: bytes) -> bool:
    """Store the disguised copy; False (logged) if it cannot be made now."""
    try:
        deps.store.put(key, disguise_voice(audio))
    except (BadAudio, VoiceDisguiseUnavailable, OSError, RuntimeError, ValueError) as error:
        log.warning("recording.disguise_failed", intake_id=intake_id, error=describe_error(error))
        return False
    return True


def _schedule_disguise(deps: WorkerDeps, intake_id: int) -> bool:
    """Put `disguise_intake` on the intake queue with retries; the sweeper covers a Redis error."""
    try:
        job = enqueue_once(
            deps.queue, DISGUISE_JOB, intake_id, job_id=f"disguise-{intake_id}",
            intervals=list(queueing.RETRY_INTERVALS_S),
        )
    except RedisError as error:
        log.warning("recording.disguise_enqueue_failed", intake_id=intake_id, error=type(error).__name__)
        return False
    return job is not None


def disguise_intake(intake_id: int) -> None:
    """Make the disguised copy of an anonymous caller's stored recording (a retry); once only."""
    deps = worker_deps()
    with deps.sessions() as session:
        stored = session.scalars(select(StoredRecording).where(StoredRecording.intake_id == intake_id)).one()
        if stored.disguised_key is not None or stored.purged_at is not None:
            return
        storage_key, call_id = stored.storage_key, session.get_one(Intake, intake_id).call_id
    key = f"intake-{intake_id}/disguised.wav"
    if not deps.store.exists(key):
        with deps.store.open(storage_key) as handle:
            audio = handle.read()
        deps.store.put(key, disguise_voice(audio))  # an error here: RQ retries
    with deps.sessions.begin() as session:
        stamp_once(
            session,
            update(StoredRecording)
            .where(StoredRecording.intake_id == intake_id, StoredRecording.disguised_key.is_(None))
            .values(disguised_key=key),
            "recording.disguised", call_id=call_id, intake_id=intake_id,
        )
    log.info("recording.disguised", intake_id=intake_id)


def download_policy(deps: WorkerDeps) -> download.RetryPolicy:
    settings = deps.settings
    return download.RetryPolicy(
        base_delay_s=settings.download_backoff_s,
        total_s=settings.download_budget_s,
        read_timeout_s=settings.download_timeout_s,
    )


def _open_case(deps: WorkerDeps, intake_id: int) -> int:
    """Open (or update) the call's case before transcribing: a slow model never delays a report."""
    is_transcribed = deps.settings.transcriber != "none"
    with deps.sessions.begin() as session:
        intake = session.get_one(Intake, intake_id)
        transcript = session.scalars(select(Transcript).where(Transcript.intake_id == intake_id)).first()
        case = open_case(session, intake, transcript, is_transcribed=is_transcribed)
        case_id, is_urgent, notified_at = case.id, case.is_urgent, case.notified_at
    if is_urgent and notified_at is None and deps.settings.urgent_webhook_url:
        enqueue_once(
            deps.queue,
            NOTIFY_JOB,
            case_id,
            job_id=f"notify-{case_id}",
            intervals=deps.settings.notify_retry_intervals_s,
        )
    return case_id


def _finish(deps: WorkerDeps, intake_id: int, case_id: int) -> None:
    with deps.sessions.begin() as session:
        result = session.execute(
            update(Intake)
            .where(Intake.id == intake_id, Intake.status != DONE)
            .values(status=DONE, last_error=None, updated_at=utc_now())
        )
        call_id = session.get_one(Intake, intake_id).call_id
        if getattr(result, "rowcount", 0) == 1:
            record_event(session, "intake.processed", call_id=call_id, intake_id=intake_id, case_id=case_id)
        settle_call_times(session, call_id, deps.settings)
    log.info("intake.processed", intake_id=intake_id, case_id=case_id)


def _record_failure(deps: WorkerDeps, intake_id: int, error: BaseException) -> None:
    """Note why this attempt failed; after the last retry the intake is failed, for a person."""
    reason = describe_error(error)
    is_final = is_last_attempt()
    log.warning("intake.attempt_failed", intake_id=intake_id, error=reason, is_final=is_final)
    try:
        with deps.sessions.begin() as session:
            intake = session.get(Intake, intake_id)
            if intake is None or intake.status == DONE:
                return
            intake.last_error = reason
            intake.status = FAILED if is_final else QUEUED  # QUEUED: RQ has the retry scheduled
            if is_final:
                record_event(
                    session, "intake.failed", call_id=intake.call_id, intake_id=intake_id,
                    attempts=intake.attempts,
                )
    except Exception:  # the original error matters more; RQ records it
        log.exception("intake.failure_not_recorded", intake_id=intake_id)


def is_last_attempt() -> bool:
    """Whether the running job has no RQ retries left (outside RQ every run is the last)."""
    job = get_current_job()
    return job is None or not job.retries_left


def caller_language(call: Call) -> Language:
    """The language the caller chose in the menu; Russian when unknown (the flow's default)."""
    for language in LANGUAGES:
        if call.language == language:
            return language
    return "ru"


# ---------------------------------------------------------------- Twilio clean-up


def call_has_ended(call: Call, intake: Intake, settings: Any, now: datetime | None = None) -> bool:
    """Whether the caller can no longer be listening to the recording.

    Twilio's status callback marks the end; if it never came, a recording older than
    `call_assumed_over_after_s` is taken to be from a finished call.
    """
    if call.status != "in-progress":
        return True
    now = now or utc_now()
    started = intake.created_at
    if call.is_recovered:
        started = min(started, call.started_at)
    return started < now - timedelta(seconds=settings.call_assumed_over_after_s)



def release_at_twilio(intake_id: int, *, deps: WorkerDeps | None = None) -> bool:
    """Delete the recording at Twilio once our verified copy exists and the call is over.

    For anonymous calls, once every recording of the call is gone from Twilio, the call's log
    goes too: it is the last place that holds the caller's number. Returns True when nothing
    of this intake is left at Twilio (or `keep_on_twilio` says to leave it); when the call is
    still on, the job is scheduled again and the sweeper keeps an eye on it.
    """
    deps = deps or worker_deps()
    settings = deps.settings
    if settings.keep_on_twilio:
        return True
    with deps.sessions() as session:
        intake = session.get_one(Intake, intake_id)
        call = intake.call
        stored = session.scalars(select(StoredRecording).where(StoredRecording.intake_id == intake_id)).first()
        if stored is None:
            return False  # no safe copy yet: Twilio's is the only one
        has_ended = call_has_ended(call, intake, settings)
        recording_sid, storage_key = intake.recording_sid, stored.storage_key
        is_deleted, is_purged = stored.deleted_at_twilio is not None, stored.purged_at is not None
        call_id, call_sid, is_anonymous = call.id, call.call_sid, call.is_anonymous
    if not has_ended:
        enqueue_once(deps.queue, RELEASE_JOB, intake_id, job_id=f"release-{intake_id}", delay_s=RELEASE_RECHECK_S)
        return False
    if not is_deleted:
        if not is_purged and not deps.store.exists(storage_key):
            raise RecordingLost(f"intake {intake_id}: stored copy missing; Twilio's copy kept")
        was_there = download.delete_recording(
            settings, recording_sid, session=deps.http, retry=download_policy(deps)
        )
        with deps.sessions.begin() as session:
            stamp_once(
                session,
                update(StoredRecording)
                .where(StoredRecording.intake_id == intake_id, StoredRecording.deleted_at_twilio.is_(None))
                .values(deleted_at_twilio=utc_now()),
                "recording.deleted_at_twilio", call_id=call_id, intake_id=intake_id, was_there=was_there,
            )
            settle_call_times(session, call_id, settings)
        log.info("recording.deleted_at_twilio", intake_id=intake_id)
    if is_anonymous:
        _delete_call_log(deps, call_id, call_sid)
    return True


def _delete_call_log(deps: WorkerDeps, call_id: int, call_sid: str) -> None:
    """Delete an anonymous call at Twilio once all its recordings there are deleted."""
    with deps.sessions() as session:
        call = session.get(Call, call_id)
        has_case = session.scalars(select(Case.id).where(Case.call_id == call_id)).first() is not None
        if call is None or not has_case or call.deleted_at_twilio is not None:
            return
        rows = session.execute(
            select(Intake.id, StoredRecording.deleted_at_twilio)
            .outerjoin(StoredRecording, StoredRecording.intake_id == Intake.id)
            .where(Intake.call_id == call_id)
        ).all()
    if any(deleted_at is None for _, deleted_at in rows):
        return  # another recording of this call still needs Twilio's copy
    was_there = download.delete_call(deps.settings, call_sid, session=deps.http, retry=download_policy(deps))
    with deps.sessions.begin() as session:
        stamp_once(
            session,
            update(Call)
            .where(Call.id == call_id, Call.deleted_at_twilio.is_(None))
            .values(deleted_at_twilio=utc_now()),
            "call.deleted_at_twilio", call_id=call_id, was_there=was_there,
        )
        settle_call_times(session, call_id, deps.settings)
    log.info("call.deleted_at_twilio", call_id=call_id)


# ---------------------------------------------------------------- transcription


def schedule_transcription(deps: WorkerDeps, intake_id: int, *, delay_s: float = 0) -> bool:
    """Put `transcribe_intake` on the transcription queue with its own retries; False if already there.

    The case is open before this: a hung or failing model delays transcripts, never cases.
    A Redis error here is only logged: the sweeper schedules transcripts that never came.
    """
    if deps.settings.transcriber == "none":
        return False
    try:
        job = enqueue_once(
            deps.transcribe_queue, TRANSCRIBE_JOB, intake_id, job_id=f"transcribe-{intake_id}",
            delay_s=delay_s, intervals=list(deps.settings.transcribe_retry_intervals_s),
        )
    except RedisError as error:
        log.warning("transcript.enqueue_failed", intake_id=intake_id, error=type(error).__name__)
        return False
    return job is not None


def transcribe_intake(intake_id: int) -> None:
    """Transcribe a stored recording (on the transcription queue); returns early if done already."""
    deps = worker_deps()
    if deps.settings.transcriber == "none":
        return
    with deps.sessions() as session:
        transcript = session.scalars(select(Transcript).where(Transcript.intake_id == intake_id)).first()
        if transcript is not None and transcript.status == "done":
            return
        stored = session.scalars(select(StoredRecording).where(StoredRecording.intake_id == intake_id)).one()
        if stored.purged_at is not None:
            return  # retention removed it; nothing left to transcribe
        storage_key = stored.storage_key
    try:
        with deps.store.open(storage_key) as handle:
            audio = handle.read()
        transcribe_audio(deps, intake_id, audio)
        with deps.sessions.begin() as session:
            settle_call_times(session, session.get_one(Intake, intake_id).call_id, deps.settings)
    except Exception as error:
        _record_transcript_failure(deps, intake_id, error)
        raise  # RQ retries with the intervals the job was enqueued with


def transcribe_audio(deps: WorkerDeps, intake_id: int, audio: bytes) -> None:
    """Run the model in the caller's chosen language (never detection) and store the transcript."""
    with deps.sessions() as session:
        intake = session.get_one(Intake, intake_id)
        existing = session.scalars(select(Transcript).where(Transcript.intake_id == intake_id)).first()
        if existing is not None and existing.status == "done":
            return
        language = caller_language(intake.call)
    result = _run_with_timeout(deps, audio, language)
    verdict = judge_transcript(result)
    segments = [
        {"start_s": round(s.start_s, 2), "end_s": round(s.end_s, 2), "text": s.text} for s in result.segments
    ]
    values: dict[str, Any] = {
        "status": "done",
        "language": language,
        "text": result.text,
        "segments": segments,
        "confidence": result.confidence,
        "engine": result.engine,
        "model": result.model,
        "is_truncated": result.is_truncated,
        "verdict": verdict.label,
        "verdict_reasons": list(verdict.reasons),
        "speech_ratio": verdict.speech_ratio,
        "detected_language": result.detected_language,
        "error": None,
        "updated_at": utc_now(),
    }
    with deps.sessions.begin() as session:
        is_changed = insert_once(session, Transcript, "intake_id", intake_id=intake_id, attempts=1, **values)
        transcript = session.scalars(select(Transcript).where(Transcript.intake_id == intake_id)).one()
        if not is_changed and transcript.status != "done":
            for name, value in values.items():
                setattr(transcript, name, value)
            transcript.attempts += 1
            is_changed = True
        call_id = session.get_one(Intake, intake_id).call_id
        summary = transcript_summary(session, call_id)
        session.execute(update(Case).where(Case.call_id == call_id).values(transcript_status=summary))
        if is_changed:  # a racing worker that finished first wrote the event
            record_event(
                session, "transcript.created", call_id=call_id, intake_id=intake_id,
                segments=len(segments), is_truncated=result.is_truncated,
            )
    log.info("transcript.created", intake_id=intake_id, segments=len(segments))


def _run_with_timeout(deps: WorkerDeps, audio: bytes, language: Language) -> Any:
    """The transcriber's result, or TranscriptionTimeout after `transcribe_timeout_s`."""
    transcriber = deps.transcriber
    if transcriber is None:
        raise RuntimeError("no transcriber configured")
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = transcriber.transcribe(audio, language=language)
        except BaseException as error:  # handed to the waiting thread
            outcome["error"] = error

    # A daemon thread: a model stuck past the limit must not keep the job (or the process) alive.
    thread = threading.Thread(target=run, name="transcribe", daemon=True)
    thread.start()
    # The transcriber keeps its own budget (it returns a truncated transcript); this limit is
    # the backstop for a model that hangs, with room for loading it on first use.
    limit_s = deps.settings.transcribe_timeout_s + TRANSCRIBE_GRACE_S
    thread.join(limit_s)
    if thread.is_alive():
        raise TranscriptionTimeout(f"no transcript within {limit_s} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _record_transcript_failure(deps: WorkerDeps, intake_id: int, error: BaseException) -> None:
    """Mark the transcript failed (visible to operators); the case stays open without it."""
    reason = describe_error(error)
    log.warning("transcript.failed", intake_id=intake_id, error=reason)
    with deps.sessions.begin() as session:
        intake = session.get_one(Intake, intake_id)
        language = caller_language(intake.call)
        is_new = insert_once(
            session, Transcript, "intake_id",
            intake_id=intake_id, status="failed", language=language, error=reason, attempts=1,
            segments=[], is_truncated=False, created_at=utc_now(), updated_at=utc_now(),
        )
        transcript = session.scalars(select(Transcript).where(Transcript.intake_id == intake_id)).one()
        if transcript.status == "done":
            return  # a racing worker succeeded
        if not is_new:
            transcript.status, transcript.error = "failed", reason
            transcript.attempts += 1
        summary = transcript_summary(session, intake.call_id)
        session.execute(update(Case).where(Case.call_id == intake.call_id).values(transcript_status=summary))
        record_event(
            session, "transcript.failed", call_id=intake.call_id, intake_id=intake_id,
            attempts=transcript.attempts,
        )


# ---------------------------------------------------------------- enqueueing follow-up jobs


def enqueue_once(
    queue: Queue,
    func: str,
    *args: int,
    job_id: str,
    delay_s: float = 0,
    intervals: list[int] | None = None,
) -> Job | None:
    """Enqueue a job by dotted name unless one with this id is still to run; None if it is."""
    existing = queue.fetch_job(job_id)
    if existing is not None and existing.get_status(refresh=True) in LIVE_JOB_STATUSES:
        return None
    if existing is not None:
        existing.delete()  # a finished or failed run of the same id; its result is history
    options: dict[str, Any] = {
        "job_id": job_id,
        "job_timeout": JOB_TIMEOUT_S,
        "result_ttl": RESULT_TTL_S,
        "failure_ttl": FAILURE_TTL_S,
        "description": f"{func.rsplit('.', 1)[-1]} {' '.join(map(str, args))}",
    }
    if intervals:
        options["retry"] = Retry(max=len(intervals), interval=intervals)
    if delay_s > 0:
        return queue.enqueue_in(timedelta(seconds=delay_s), func, *args, **options)
    return queue.enqueue(func, *args, **options)
