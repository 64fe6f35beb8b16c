"""process_intake and its follow-up jobs, on a real Redis, SQLite and PostgreSQL, and a fake Twilio."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

import pytest
from rq import SimpleWorker
from rq.job import Job, JobStatus
from sqlalchemy import select

from ivr.models import DONE, FAILED, AuditEvent, Call, Case, Intake, StoredRecording, Transcript
from ivr.queueing import job_id_for
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.workers.test_jobs_support import (
    FailingTranscriber,
    WebhookReceiver,
    add_intake,
    audit_actions,
    call_of,
    count,
    make_wav,
    run_jobs,
    set_call_status,
    use_settings,
)
from workers import download, intake, transcription
from workers.deps import WorkerDeps
from workers.intake import disguise_intake, process_intake
from workers.transcription import transcribe_intake
from workers.twilio_cleanup import forget_call, release_at_twilio


def stored_row(deps: WorkerDeps, intake_id: int) -> StoredRecording:
    with deps.sessions() as session:
        return session.scalars(select(StoredRecording).where(StoredRecording.intake_id == intake_id)).one()


def the_case(deps: WorkerDeps) -> Case:
    with deps.sessions() as session:
        return session.scalars(select(Case)).one()


def intake_row(deps: WorkerDeps, intake_id: int) -> Intake:
    with deps.sessions() as session:
        return session.get_one(Intake, intake_id)


def recording_sid_of(deps: WorkerDeps, intake_id: int) -> str:
    return intake_row(deps, intake_id).recording_sid


def transcribe_once(deps: WorkerDeps) -> None:
    """One pass of the transcription queue: what a transcribing worker runs next."""
    SimpleWorker([deps.transcribe_queue], connection=deps.redis).work(burst=True)


def test_process_intake_stores_opens_case_and_deletes_at_twilio(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    audio = make_wav(6)
    intake_id = add_intake(deps, fake_api, audio=audio, duration_s=6, region_code="02", language="kk")
    sid = recording_sid_of(deps, intake_id)

    run_jobs(deps.queue)

    assert intake_row(deps, intake_id).status == DONE
    stored = stored_row(deps, intake_id)
    assert stored.storage_key == f"intake-{intake_id}/original.wav" and stored.disguised_key is None
    with deps.store.open(stored.storage_key) as handle:
        assert handle.read() == audio  # decrypts to exactly what Twilio served
    assert stored.sha256 == hashlib.sha256(audio).hexdigest() and stored.deleted_at_twilio is not None
    assert not fake_api.has_recording(sid)
    assert fake_api.requests_matching("DELETE", f"/Recordings/{sid}.json")
    case = the_case(deps)
    assert (case.status, case.region_code, case.language, case.transcript_status) == ("new", "02", "kk", "done")
    assert case.reference and not case.has_new_info and not case.is_recovered
    with deps.sessions() as session:
        transcript = session.scalars(select(Transcript)).one()
    assert transcript.status == "done" and transcript.language == "kk" and "bribe" in (transcript.text or "")
    assert audit_actions(deps.sessions) == [
        "recording.stored",
        "case.opened",
        "recording.deleted_at_twilio",
        "intake.processed",
        "transcript.created",  # on its own queue, after the case is open
    ]
    assert not fake_api.requests_matching("DELETE", "/Calls/")  # the caller left a name: call log stays


def test_process_intake_run_twice_changes_nothing(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    intake_id = add_intake(deps, fake_api, enqueue=False)
    process_intake(intake_id)
    events = audit_actions(deps.sessions)
    requests = len(fake_api.requests)

    process_intake(intake_id)

    assert audit_actions(deps.sessions) == events
    assert len(fake_api.requests) == requests
    assert count(deps.sessions, Case) == count(deps.sessions, StoredRecording) == 1


def test_concurrent_runs_give_one_case_and_one_file(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    intake_id = add_intake(deps, fake_api, enqueue=False)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            process_intake(intake_id)
        except Exception as error:  # a lost race may fail; the others must finish the work
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if errors:
        process_intake(intake_id)  # what RQ's retry would do
    run_jobs(deps.queue)  # the transcription, on its own queue

    assert intake_row(deps, intake_id).status == DONE
    assert count(deps.sessions, Case) == count(deps.sessions, StoredRecording) == 1
    actions = audit_actions(deps.sessions)
    for action in ("recording.stored", "case.opened", "recording.deleted_at_twilio", "transcript.created"):
        assert actions.count(action) == 1, (action, actions)
    assert list(deps.store.keys()) == [f"intake-{intake_id}/original.wav"]


class Crash(BaseException):
    """Stands in for SIGKILL: no except clause of the job catches it."""


@pytest.mark.parametrize("crash_at", ["after_put", "after_row", "after_twilio_delete", "after_case"])
def test_killed_mid_step_then_rerun_loses_and_duplicates_nothing(
    deps: WorkerDeps, fake_api: FakeTwilioApi, monkeypatch: pytest.MonkeyPatch, crash_at: str
) -> None:
    intake_id = add_intake(deps, fake_api, is_anonymous=True, enqueue=False)
    armed = [True]

    def crash_after(target: Any, name: str) -> None:
        real = getattr(target, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            if armed[0]:
                armed[0] = False
                raise Crash()
            return result

        monkeypatch.setattr(target, name, wrapper)

    if crash_at == "after_put":
        crash_after(deps.store, "put")
    elif crash_at == "after_row":
        crash_after(intake, "insert_once")
    elif crash_at == "after_twilio_delete":
        crash_after(download, "delete_recording")
    else:
        crash_after(intake, "open_case")
    with pytest.raises(Crash):
        process_intake(intake_id)

    process_intake(intake_id)
    run_jobs(deps.queue)  # the transcription, on its own queue

    assert intake_row(deps, intake_id).status == DONE
    assert count(deps.sessions, Case) == count(deps.sessions, StoredRecording) == 1
    actions = audit_actions(deps.sessions)
    for action in ("recording.stored", "recording.deleted_at_twilio", "transcript.created", "intake.processed"):
        assert actions.count(action) == 1, (action, actions)
    assert actions.count("case.opened") == 1 and "case.updated" not in actions
    assert sorted(deps.store.keys()) == [f"intake-{intake_id}/disguised.wav", f"intake-{intake_id}/original.wav"]


def test_anonymous_call_gets_a_disguised_copy_and_its_call_log_deleted(
    deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    audio = make_wav(5)
    intake_id = add_intake(deps, fake_api, audio=audio, is_anonymous=True)
    call_sid = fake_api.requests[0].path if fake_api.requests else None
    assert call_sid is None

    run_jobs(deps.queue)

    stored = stored_row(deps, intake_id)
    assert stored.disguised_key == f"intake-{intake_id}/disguised.wav"
    with deps.store.open(stored.disguised_key) as handle:
        disguised = handle.read()
    assert disguised != audio and abs(len(disguised) - len(audio)) < 0.05 * len(audio)
    case = the_case(deps)
    with deps.sessions() as session:
        call = session.get_one(Call, case.call_id)
    assert case.is_anonymous and call.deleted_at_twilio is not None  # one record of it, on the call
    assert [r.method for r in fake_api.requests_matching(path_contains="/Calls/")] == ["DELETE"]
    assert "call.deleted_at_twilio" in audit_actions(deps.sessions)


def test_recording_stays_at_twilio_while_the_call_lasts(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    intake_id = add_intake(deps, fake_api, call_status="in-progress", is_anonymous=True)
    sid = recording_sid_of(deps, intake_id)
    deps.queue.connection.flushdb()  # nothing else on the queue but what the job schedules
    process_intake(intake_id)

    assert fake_api.has_recording(sid) and not fake_api.requests_matching("DELETE")
    assert the_case(deps).id and intake_row(deps, intake_id).status == DONE
    release = Job.fetch(f"release-{intake_id}", connection=deps.queue.connection)
    assert release.get_status() == JobStatus.SCHEDULED

    set_call_status(deps.sessions, intake_id, "completed")
    assert release_at_twilio(intake_id)
    assert not fake_api.has_recording(sid)
    assert [r.method for r in fake_api.requests_matching("DELETE")] == ["DELETE", "DELETE"]  # recording, call


def test_keep_on_twilio_leaves_the_recording(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    use_settings(deps, keep_on_twilio=True)
    intake_id = add_intake(deps, fake_api, is_anonymous=True)
    run_jobs(deps.queue)
    assert intake_row(deps, intake_id).status == DONE
    assert fake_api.has_recording(recording_sid_of(deps, intake_id))
    assert not fake_api.requests_matching("DELETE")


def test_twilio_404_then_200_is_retried_within_the_job(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    intake_id = add_intake(deps, fake_api, enqueue=False)
    fake_api.fail_next(recording_sid_of(deps, intake_id), 3, 404)
    fake_api.fail_next(recording_sid_of(deps, intake_id), 1, 503)
    process_intake(intake_id)
    assert intake_row(deps, intake_id).status == DONE
    assert len(fake_api.requests_matching("GET", "/Recordings/RE")) == 5


def test_twilio_timeout_then_200(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    intake_id = add_intake(deps, fake_api, enqueue=False)
    fake_api.fail_next(recording_sid_of(deps, intake_id), 1, "timeout", stall_s=1.5)
    process_intake(intake_id)
    assert intake_row(deps, intake_id).status == DONE


def test_corrupt_audio_fails_after_retries_with_a_clear_error(
    deps: WorkerDeps, fake_api: FakeTwilioApi, fast_retries: list[int]
) -> None:
    intake_id = add_intake(deps, fake_api, audio=b"RIFF\x00\x00not really audio" * 50, duration_s=5)

    run_jobs(deps.queue)

    intake = intake_row(deps, intake_id)
    assert intake.status == FAILED and intake.attempts == len(fast_retries) + 1
    assert intake.last_error and intake.last_error.startswith("BadAudio")
    assert "+7701" not in intake.last_error and "http" not in intake.last_error
    assert audit_actions(deps.sessions, intake_id=intake_id) == ["intake.failed"]
    assert count(deps.sessions, Case) == 0
    assert fake_api.has_recording(intake.recording_sid)  # Twilio's copy is all there is: kept
    job = Job.fetch(job_id_for(intake_id), connection=deps.queue.connection)
    assert job.get_status() == JobStatus.FAILED and job.args == (intake_id,)


@pytest.mark.parametrize("reported_s", [-1, 99999, 30])
def test_the_audio_is_the_truth_when_the_callback_reports_another_length(
    deps: WorkerDeps, fake_api: FakeTwilioApi, reported_s: int
) -> None:
    intake_id = add_intake(deps, fake_api, audio=make_wav(8), duration_s=reported_s, enqueue=False)

    process_intake(intake_id)

    intake = intake_row(deps, intake_id)
    assert intake.status == DONE and intake.last_error is None
    assert intake.duration_s == 8  # what the audio says, not the callback
    assert stored_row(deps, intake_id).duration_s == pytest.approx(8, abs=0.05)
    assert count(deps.sessions, Case) == 1
    with deps.sessions() as session:  # the disagreement stays on record, beside the log line
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "recording.duration_mismatch"))
    assert event.intake_id == intake_id and event.detail == {"reported_s": reported_s, "audio_s": 8.0}


@pytest.mark.parametrize("transcriber", [lambda: FailingTranscriber(failures=1)], indirect=True)
def test_transcription_failure_opens_the_case_and_retries_later(
    deps: WorkerDeps, fake_api: FakeTwilioApi, transcriber: FailingTranscriber
) -> None:
    intake_id = add_intake(deps, fake_api, enqueue=False)
    process_intake(intake_id)
    assert intake_row(deps, intake_id).status == DONE and the_case(deps).transcript_status == "pending"
    transcribe_once(deps)

    case = the_case(deps)
    assert case.transcript_status == "failed"
    with deps.sessions() as session:
        transcript = session.scalars(select(Transcript)).one()
    assert transcript.status == "failed" and transcript.text is None
    assert transcript.error == "TranscriptionFailed: model failed to run"
    job = Job.fetch(f"transcribe-{intake_id}", connection=deps.queue.connection)
    assert job.func_name == "workers.transcription.transcribe_intake" and job.args == (intake_id,)
    assert job.origin == deps.settings.transcribe_queue_name

    run_jobs(deps.queue, until=lambda: the_case(deps).transcript_status == "done")

    with deps.sessions() as session:
        transcript = session.scalars(select(Transcript)).one()
    assert transcript.status == "done" and transcript.attempts == 2 and transcript.error is None
    assert audit_actions(deps.sessions).count("transcript.created") == 1


@pytest.mark.parametrize("transcriber", [lambda: FailingTranscriber(failures=1, sleep_s=3)], indirect=True)
def test_transcription_timeout_never_blocks_the_case(
    deps: WorkerDeps, fake_api: FakeTwilioApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transcription, "TRANSCRIBE_GRACE_S", 0.3)
    use_settings(deps, transcribe_timeout_s=0)
    intake_id = add_intake(deps, fake_api, enqueue=False)
    process_intake(intake_id)
    assert intake_row(deps, intake_id).status == DONE
    transcribe_once(deps)
    assert the_case(deps).transcript_status == "failed"
    with deps.sessions() as session:
        assert (session.scalars(select(Transcript.error)).one() or "").startswith("TranscriptionTimeout")


def test_follow_up_recording_updates_the_case(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    first = add_intake(deps, fake_api, enqueue=False)
    call_sid = call_of(deps.sessions, first).call_sid
    process_intake(first)
    second = add_intake(deps, fake_api, call_sid=call_sid, kind="followup", enqueue=False)
    process_intake(second)
    process_intake(second)

    case = the_case(deps)
    assert case.has_new_info and count(deps.sessions, Case) == 1
    assert audit_actions(deps.sessions, intake_id=second).count("case.updated") == 1


def test_urgent_case_is_posted_to_the_webhook_once_with_ids_only(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    with WebhookReceiver(fail_first=1) as receiver:
        use_settings(deps, urgent_webhook_url=receiver.url)
        add_intake(deps, fake_api, is_urgent=True, region_code="13", contact="+77012345678")
        run_jobs(deps.queue, until=lambda: the_case(deps).notified_at is not None)
        run_jobs(deps.queue)

    case = the_case(deps)
    assert len(receiver.bodies) == 2  # one refusal, then accepted
    assert json.loads(receiver.bodies[-1]) == {"case_id": case.id, "reference": case.reference, "region_code": "13"}
    assert b"7701" not in receiver.bodies[-1]
    assert audit_actions(deps.sessions).count("case.notified") == 1


def test_every_job_path_named_by_string_resolves() -> None:
    from rq.utils import import_attribute

    from ivr import queueing
    from workers import notify, reconcile, retention, sweeper

    assert import_attribute(queueing.PROCESS_INTAKE) is process_intake
    assert import_attribute(queueing.TRANSCRIBE_INTAKE) is transcribe_intake
    assert import_attribute(queueing.RELEASE_AT_TWILIO) is release_at_twilio
    assert import_attribute(queueing.DISGUISE_INTAKE) is disguise_intake
    assert import_attribute(queueing.NOTIFY_URGENT) is notify.notify_urgent
    assert import_attribute(queueing.FORGET_CALL) is forget_call
    assert import_attribute(sweeper.RECONCILE_JOB) is reconcile.reconcile
    assert import_attribute(sweeper.RETENTION_JOB) is retention.run_retention


def test_job_paths_of_the_release_before_the_split_still_resolve() -> None:
    """Jobs an older release left in Redis (retries, scheduled re-checks) name the old paths."""
    from rq.utils import import_attribute

    old_paths = {
        "workers.jobs.process_intake": process_intake,
        "workers.jobs.transcribe_intake": transcribe_intake,
        "workers.jobs.disguise_intake": disguise_intake,
        "workers.jobs.release_at_twilio": release_at_twilio,
        "workers.forget.forget_call": forget_call,
    }
    for path, function in old_paths.items():
        assert import_attribute(path) is function, path
