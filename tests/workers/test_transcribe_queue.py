"""Transcription on its own queue: a hung or failing model never delays a case."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from ivr.models import DONE, Case, Intake, Transcript
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.workers.test_jobs_support import FakeTranscriber, add_intake, run_jobs
from workers.deps import WorkerDeps
from workers.worker import make_worker


class HungTranscriber(FakeTranscriber):
    """A model that hangs until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def transcribe(self, audio: Any, *, language: Any) -> Any:
        """Hang, then transcribe."""
        self.calls += 1
        self.release.wait(60)
        return super().transcribe(audio, language=language)


@pytest.mark.parametrize("transcriber", [HungTranscriber], indirect=True)
def test_a_hung_model_delays_no_case(deps: WorkerDeps, fake_api: FakeTwilioApi, transcriber: HungTranscriber) -> None:
    ids = [add_intake(deps, fake_api, duration_s=3) for _ in range(3)]
    intake_only = SimpleWorker([deps.queue], connection=deps.redis)
    started = time.monotonic()
    try:
        intake_only.work(burst=True)  # the intake queue alone: transcription waits on its own queue
        elapsed = time.monotonic() - started
        with deps.sessions() as session:
            assert [i.status for i in session.scalars(select(Intake).order_by(Intake.id))] == [DONE] * 3
            assert [c.transcript_status for c in session.scalars(select(Case))] == ["pending"] * 3
        assert elapsed < 20, elapsed  # cases open in seconds, whatever the model does
        transcribe = Queue(deps.settings.transcribe_queue_name, connection=deps.redis)
        assert sorted(transcribe.job_ids) == sorted(f"transcribe-{i}" for i in ids)
    finally:
        transcriber.release.set()
    run_jobs(deps.queue)
    with deps.sessions() as session:
        assert [t.status for t in session.scalars(select(Transcript))] == ["done"] * 3
        assert [c.transcript_status for c in session.scalars(select(Case))] == ["done"] * 3


def test_a_worker_takes_intake_first_then_transcriptions(deps: WorkerDeps) -> None:
    both = make_worker(deps.settings)
    assert [q.name for q in both.queues] == [deps.settings.queue_name, deps.settings.transcribe_queue_name]
    only = make_worker(deps.settings, queues=["transcribe"])
    assert [q.name for q in only.queues] == [deps.settings.transcribe_queue_name]


def test_a_transcription_redis_lost_is_scheduled_again_by_the_sweeper(
    deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    from workers.sweeper import sweep

    intake_id = add_intake(deps, fake_api, duration_s=3)
    SimpleWorker([deps.queue], connection=deps.redis).work(burst=True)
    transcribe = Queue(deps.settings.transcribe_queue_name, connection=deps.redis)
    transcribe.empty()  # Redis lost it (restarted without its append-only file)

    report = sweep(deps.sessions, deps.queue, settings=deps.settings)

    assert report.transcriptions == [intake_id] and transcribe.job_ids == [f"transcribe-{intake_id}"]
    run_jobs(deps.queue)
    with deps.sessions() as session:
        assert session.scalars(select(Case.transcript_status)).one() == "done"


@pytest.mark.parametrize("transcriber", [lambda: SlowTranscriber(2.5)], indirect=True)
def test_transcriptions_run_in_the_worker_process_with_one_model_and_a_live_heartbeat(
    deps: WorkerDeps, fake_api: FakeTwilioApi, transcriber: SlowTranscriber
) -> None:
    import os

    from rq.job import Job

    ids = [add_intake(deps, fake_api, duration_s=3) for _ in range(2)]
    SimpleWorker([deps.queue], connection=deps.redis).work(burst=True)  # the cases
    worker = make_worker(deps.settings, queues=["transcribe"])
    worker.job_monitoring_interval = 1

    worker.work(burst=True)

    # Run here, not in a forked horse: the one model object of this process did both.
    assert transcriber.calls == 2 and transcriber.pids == {os.getpid()}
    with deps.sessions() as session:
        assert [t.status for t in session.scalars(select(Transcript))] == ["done"] * 2
    job = Job.fetch(f"transcribe-{ids[0]}", connection=deps.redis)
    assert job.started_at and job.last_heartbeat
    # Heartbeats kept coming while the model ran, so the sweeper never takes the job for abandoned.
    assert (job.last_heartbeat - job.started_at).total_seconds() >= 1


class SlowTranscriber(FakeTranscriber):
    """Takes its time; notes the process it ran in."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.pids: set[int] = set()

    def transcribe(self, audio: Any, *, language: Any) -> Any:
        """Sleep, then transcribe."""
        import os

        self.pids.add(os.getpid())
        time.sleep(self.seconds)
        return super().transcribe(audio, language=language)
