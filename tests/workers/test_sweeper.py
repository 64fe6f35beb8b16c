"""The sweeper puts back on the queue what Redis lost or never saw; a real Redis restart loses nothing."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from sqlalchemy import update

from ivr.db import utc_now
from ivr.models import DONE, FAILED, PENDING, PROCESSING, Case, Intake
from ivr.queueing import job_id_for
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.services import RedisServer
from tests.workers.test_jobs_support import add_intake, count, run_jobs, set_call_status
from workers.deps import WorkerDeps
from workers.sweeper import sweep


def status_of(deps: WorkerDeps, intake_id: int) -> str:
    with deps.sessions() as session:
        return session.get_one(Intake, intake_id).status


def later(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_pending_intake_is_enqueued_once(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    intake_id = add_intake(deps, fake_api, enqueue=False)  # the webhook could not reach Redis
    assert status_of(deps, intake_id) == PENDING

    report = sweep(deps.sessions, deps.queue, settings=deps.settings)
    again = sweep(deps.sessions, deps.queue, settings=deps.settings)

    assert report.enqueued == [intake_id] and again.total == 0
    assert deps.queue.job_ids == [job_id_for(intake_id)]
    run_jobs(deps.queue)
    assert status_of(deps, intake_id) == DONE and count(deps.sessions, Case) == 1


def test_sweepers_on_several_hosts_enqueue_each_intake_once(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    ids = [add_intake(deps, fake_api, enqueue=False) for _ in range(5)]
    reports = []

    def run() -> None:
        reports.append(sweep(deps.sessions, Queue(deps.queue.name, connection=deps.redis), settings=deps.settings))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(i for r in reports for i in r.enqueued) == ids
    assert sorted(deps.queue.job_ids) == sorted(job_id_for(i) for i in ids)


def test_queued_intake_whose_job_redis_lost_is_requeued(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    intake_id = add_intake(deps, fake_api)
    deps.redis.flushall()  # Redis restarted without its append-only file

    assert sweep(deps.sessions, deps.queue, settings=deps.settings).requeued == []  # just claimed: wait
    report = sweep(deps.sessions, deps.queue, settings=deps.settings, now=utc_now() + later(60))

    assert report.requeued == [intake_id]
    run_jobs(deps.queue)
    assert status_of(deps, intake_id) == DONE


def test_a_job_a_failover_took_off_its_queue_is_requeued_and_a_waiting_one_is_not(
    deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    lost, waiting = add_intake(deps, fake_api), add_intake(deps, fake_api)
    # The new master kept the job (status queued) but not its place on the queue (or kept a
    # worker's pop but not the write that marked it started): nothing would run it for 40 minutes.
    deps.redis.lrem(deps.queue.key, 0, job_id_for(lost))

    report = sweep(deps.sessions, deps.queue, settings=deps.settings, now=utc_now() + later(60))

    assert report.requeued == [lost]  # the one still waiting its turn on the queue stays as it is
    assert sorted(deps.queue.job_ids) == sorted([job_id_for(lost), job_id_for(waiting)])
    run_jobs(deps.queue)
    assert status_of(deps, lost) == DONE and status_of(deps, waiting) == DONE and count(deps.sessions, Case) == 2


def test_processing_intake_stuck_past_the_threshold_is_requeued(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    intake_id = add_intake(deps, fake_api)
    job = Job.fetch(job_id_for(intake_id), connection=deps.redis)
    job.set_status(JobStatus.STARTED)  # a worker took it, then vanished without a trace
    with deps.sessions.begin() as session:
        session.execute(update(Intake).where(Intake.id == intake_id).values(status=PROCESSING))

    assert sweep(deps.sessions, deps.queue, settings=deps.settings).requeued == []
    report = sweep(
        deps.sessions, deps.queue, settings=deps.settings, now=utc_now() + later(deps.settings.stuck_after_s + 1)
    )

    assert report.requeued == [intake_id]
    run_jobs(deps.queue)
    assert status_of(deps, intake_id) == DONE and count(deps.sessions, Case) == 1


def test_job_that_died_on_its_last_attempt_leaves_the_intake_failed(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    intake_id = add_intake(deps, fake_api)
    Job.fetch(job_id_for(intake_id), connection=deps.redis).set_status(JobStatus.FAILED)
    with deps.sessions.begin() as session:
        session.execute(update(Intake).where(Intake.id == intake_id).values(status=PROCESSING))

    report = sweep(deps.sessions, deps.queue, settings=deps.settings)

    assert report.failed == [intake_id]
    with deps.sessions() as session:
        intake = session.get_one(Intake, intake_id)
    assert intake.status == FAILED and intake.last_error == "the worker stopped mid-job on its last attempt"


def test_intake_whose_status_callback_never_came_is_fetched_after_a_while(
    deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    intake_id = add_intake(deps, fake_api, enqueue=False)
    with deps.sessions.begin() as session:
        session.execute(update(Intake).where(Intake.id == intake_id).values(is_ready=False))

    assert sweep(deps.sessions, deps.queue, settings=deps.settings).total == 0
    report = sweep(
        deps.sessions, deps.queue, settings=deps.settings, now=utc_now() + later(deps.settings.unready_after_s + 1)
    )

    assert report.unready == [intake_id]
    run_jobs(deps.queue)
    assert status_of(deps, intake_id) == DONE


def test_recording_kept_during_the_call_is_deleted_once_the_call_ends(
    deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    intake_id = add_intake(deps, fake_api, call_status="in-progress")
    run_jobs(deps.queue, until=lambda: status_of(deps, intake_id) == DONE)
    deps.redis.flushall()  # the scheduled re-check is lost too
    assert sweep(deps.sessions, deps.queue, settings=deps.settings).releases == []

    set_call_status(deps.sessions, intake_id, "completed")
    report = sweep(deps.sessions, deps.queue, settings=deps.settings)

    assert report.releases == [intake_id]
    run_jobs(deps.queue)
    assert fake_api.recording_sids() == []


def test_redis_down_then_back_the_sweeper_enqueues(
    deps: WorkerDeps, fake_api: FakeTwilioApi, redis_server: RedisServer
) -> None:
    redis_server.stop()
    intake_id = add_intake(deps, fake_api, enqueue=False)  # the webhook wrote the outbox row only
    with pytest.raises(RedisConnectionError):
        sweep(deps.sessions, deps.queue, settings=deps.settings)
    assert status_of(deps, intake_id) == PENDING

    redis_server.start()
    report = sweep(deps.sessions, deps.queue, settings=deps.settings)

    assert report.enqueued == [intake_id]
    run_jobs(deps.queue)
    assert status_of(deps, intake_id) == DONE


def test_redis_restarted_with_jobs_queued_loses_nothing(
    deps: WorkerDeps, fake_api: FakeTwilioApi, redis_server: RedisServer
) -> None:
    # The fixture's server runs with appendonly yes / appendfsync always, as production should.
    ids = [add_intake(deps, fake_api) for _ in range(3)]
    assert sorted(deps.queue.job_ids) == sorted(job_id_for(i) for i in ids)

    redis_server.stop()
    redis_server.start()

    assert sorted(deps.queue.job_ids) == sorted(job_id_for(i) for i in ids)
    SimpleWorker([deps.queue], connection=deps.queue.connection).work(burst=True)
    assert [status_of(deps, i) for i in ids] == [DONE] * 3
    assert sweep(deps.sessions, deps.queue, settings=deps.settings, now=utc_now() + later(60)).total == 0


def test_enqueue_failure_gives_the_claim_back(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    intake_id = add_intake(deps, fake_api, enqueue=False)
    broken = Queue(deps.queue.name, connection=deps.redis)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise RedisConnectionError("down")

    broken.enqueue = refuse  # type: ignore[method-assign]
    report = sweep(deps.sessions, broken, settings=deps.settings)

    assert report.enqueued == [] and status_of(deps, intake_id) == PENDING
    with deps.sessions() as session:
        assert session.get_one(Intake, intake_id).last_error == "enqueue failed: ConnectionError"


def test_a_sweep_that_failed_holding_the_lock_does_not_keep_its_sweeper_out(
    deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    # Redis failed over mid-sweep: the lock was written, its release was not. Before, every later
    # sweep skipped for the lock's 5 minutes and pending reports waited (the Sentinel rehearsal).
    from workers import sweeper

    intake_id = add_intake(deps, fake_api, enqueue=False)
    deps.redis.set(sweeper.LOCK_NAME, sweeper._LOCK_TOKEN, ex=sweeper.LOCK_TTL_S)
    report = sweep(deps.sessions, deps.queue, settings=deps.settings)
    assert not report.skipped and report.enqueued == [intake_id]
    assert deps.redis.get(sweeper.LOCK_NAME) is None  # released at the end, as usual
    # Another sweeper's lock still keeps this one out.
    deps.redis.set(sweeper.LOCK_NAME, b"another-process", ex=sweeper.LOCK_TTL_S)
    assert sweep(deps.sessions, deps.queue, settings=deps.settings).skipped


def test_the_sweep_drops_the_line_wide_pin_counts_of_hours_gone_by(deps: WorkerDeps) -> None:
    """The cap on failed PIN checks reads only the current hour; older counts would only date attempts."""
    from sqlalchemy import select

    from ivr.cases.pin_attempts import hour_of
    from ivr.models import PinFailureHour

    now = utc_now()
    hour = hour_of(now)
    with deps.sessions.begin() as session:
        session.add_all(PinFailureHour(hour=h, failures=3) for h in (hour - 30, hour - 2, hour - 1, hour))
    sweep(deps.sessions, deps.queue, settings=deps.settings, now=now)
    with deps.sessions() as session:
        assert sorted(session.scalars(select(PinFailureHour.hour))) == [hour - 1, hour]
