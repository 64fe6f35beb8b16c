"""The transcription job: a stored recording is transcribed in the caller's language, on its own queue.

The case is open before this runs: a slow, hung or failing model delays transcripts, never cases.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select, update

from ivr import queueing
from ivr.call_times import settle_call_times
from ivr.cases import search_index
from ivr.cases.opening import insert_once, record_event, transcript_summary
from ivr.db import utc_now
from ivr.logging import get_logger
from ivr.models import Call, Case, Intake, StoredRecording, Transcript
from workers.deps import WorkerDeps, worker_deps
from workers.enqueue import enqueue_or_log
from workers.failures import TranscriptionTimeout, describe_error
from workers.transcriber import LANGUAGES, Language
from workers.transcriber.verdict import judge_transcript

log = get_logger(__name__)

TRANSCRIBE_GRACE_S = 120  # the call status callback normally comes seconds after the hang-up


def caller_language(call: Call) -> Language:
    """The language the caller chose in the menu; Russian when unknown (the flow's default)."""
    for language in LANGUAGES:
        if call.language == language:
            return language
    return "ru"


def schedule_transcription(deps: WorkerDeps, intake_id: int, *, delay_s: float = 0) -> bool:
    """Put `transcribe_intake` on the transcription queue with its own retries; False if already there.

    The case is open before this: a hung or failing model delays transcripts, never cases.
    A Redis error here is only logged: the sweeper schedules transcripts that never came.
    """
    if deps.settings.transcriber == "none":
        return False
    return enqueue_or_log(
        deps.transcribe_queue, queueing.TRANSCRIBE_INTAKE, intake_id, job_id=f"transcribe-{intake_id}",
        delay_s=delay_s, intervals=list(deps.settings.transcribe_retry_intervals_s),
        event="transcript.enqueue_failed", intake_id=intake_id,
    )


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
        if is_changed:  # a racing worker that finished first wrote the event (and the search terms)
            search_index.index_transcript(session, transcript)
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
