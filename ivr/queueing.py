"""The one place that names job paths and connects to Redis.

The web side enqueues by dotted name (never importing `workers`), with ids as the only
arguments: RQ keeps failed jobs with their arguments, and caller data must never be there.
"""

from __future__ import annotations

from datetime import timedelta

from redis import Redis
from rq import Queue, Retry
from rq.job import Job

PROCESS_INTAKE = "workers.jobs.process_intake"
TRANSCRIBE_INTAKE = "workers.jobs.transcribe_intake"
DISGUISE_INTAKE = "workers.jobs.disguise_intake"
RELEASE_AT_TWILIO = "workers.jobs.release_at_twilio"
NOTIFY_URGENT = "workers.notify.notify_urgent"
RECONCILE = "workers.reconcile.reconcile"
RETENTION = "workers.retention.run_retention"
FORGET_CALL = "workers.forget.forget_call"
INTAKE_QUEUE = "intake"
TRANSCRIBE_QUEUE = "transcribe"
"""Transcriptions have their own queue and workers, so a slow model never delays a case."""
FORGET_DELAY_S = 15 * 60  # recordings of the call are fetched and deleted at Twilio first
RETRY_INTERVALS_S = [15, 60, 300, 900, 3600]
JOB_TIMEOUT_S = 1800
RESULT_TTL_S = 24 * 3600
FAILURE_TTL_S = 30 * 24 * 3600  # long enough for a person to look; ids only inside


def make_redis(url: str, *, timeout_s: float = 0.5) -> Redis:
    """A Redis client that gives up fast: a webhook must answer even when Redis is down."""
    return Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)


def make_queue(redis: Redis, name: str = "intake") -> Queue:
    """The intake queue."""
    return Queue(name, connection=redis)


def job_id_for(intake_id: int) -> str:
    """A stable job id per intake, so the sweeper can tell whether Redis still has the job."""
    return f"intake-{intake_id}"


def enqueue_processing(queue: Queue, intake_id: int) -> Job:
    """Put the processing of one intake on the queue, retried with backoff."""
    return queue.enqueue(
        PROCESS_INTAKE,
        intake_id,
        job_id=job_id_for(intake_id),
        retry=Retry(max=len(RETRY_INTERVALS_S), interval=RETRY_INTERVALS_S),
        job_timeout=JOB_TIMEOUT_S,
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        description=f"process intake {intake_id}",
    )


def enqueue_forget_call(queue: Queue, call_id: int, *, delay_s: int = FORGET_DELAY_S) -> Job:
    """Schedule deleting an anonymous call's log at Twilio (it holds the caller's number)."""
    return queue.enqueue_in(
        timedelta(seconds=delay_s),
        FORGET_CALL,
        call_id,
        job_id=f"forget-{call_id}",
        retry=Retry(max=len(RETRY_INTERVALS_S), interval=RETRY_INTERVALS_S),
        job_timeout=300,
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        description=f"forget call {call_id} at Twilio",
    )
