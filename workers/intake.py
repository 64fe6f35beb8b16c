"""The intake job: one recording becomes one case, exactly once, whatever is retried, raced or killed.

Each job takes an intake id and nothing else. Every step first looks at what an earlier run
(or a racing worker) left, and each write is an insert that ignores duplicates or an update
with a condition, so running a job twice, concurrently, or again after a SIGKILL anywhere
gives one stored file, one case and one audit event per step.

The chain: download (URL built from settings and the RecordingSid, never from a payload) ->
check it is audio of the length Twilio reported -> store it encrypted (and a disguised copy
for anonymous callers) -> open or update the case -> delete it at Twilio once our copy is safe
and the call is over (`workers.twilio_cleanup`) -> transcribe in the caller's language
(`workers.transcription`) -> notify if urgent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select, update

from ivr import queueing
from ivr.call_times import settle_call_times
from ivr.cases.opening import insert_once, open_case, record_event, stamp_once
from ivr.db import utc_now
from ivr.logging import get_logger
from ivr.models import DONE, FAILED, PROCESSING, QUEUED, Intake, StoredRecording, Transcript
from workers import download
from workers.audio import BadAudio, VoiceDisguiseUnavailable, disguise_voice, inspect_audio
from workers.deps import WorkerDeps, worker_deps
from workers.discarded_takes import delete_discarded_take, is_discarded
from workers.enqueue import enqueue_once, enqueue_or_log
from workers.failures import RecordingLost, describe_error, is_last_attempt
from workers.transcription import schedule_transcription
from workers.twilio_cleanup import RELEASE_RECHECK_S, release_at_twilio

log = get_logger(__name__)

MAX_DURATION_DRIFT_S = 2.0  # Twilio rounds RecordingDuration to whole seconds


@dataclass(frozen=True)
class Fetched:
    """The verified plain audio of an intake, and where it is stored."""

    audio: bytes
    stored_id: int


def process_intake(intake_id: int) -> None:
    """Turn one recording into a stored file and a case; safe to run twice or concurrently."""
    deps = worker_deps()
    if not _start(deps, intake_id):
        return
    try:
        if is_discarded(deps, intake_id):
            delete_discarded_take(deps, intake_id)  # "record again" replaced it: never a case
            return
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
            deps.queue, queueing.RELEASE_AT_TWILIO, intake_id, job_id=f"release-{intake_id}",
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
            deps.settings, recording_sid, session=deps.http, retry=download.RetryPolicy.for_settings(deps.settings)
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
    return enqueue_or_log(
        deps.queue, queueing.DISGUISE_INTAKE, intake_id, job_id=f"disguise-{intake_id}",
        intervals=list(queueing.RETRY_INTERVALS_S), event="recording.disguise_enqueue_failed", intake_id=intake_id,
    )


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
            queueing.NOTIFY_URGENT,
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
