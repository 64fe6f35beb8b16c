"""Enqueueing follow-up jobs by dotted name (from `ivr.queueing`), once per job id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.job import Job, JobStatus

from ivr.logging import get_logger
from ivr.queueing import FAILURE_TTL_S, JOB_TIMEOUT_S, RESULT_TTL_S

log = get_logger(__name__)

# Jobs in these states will still run; enqueueing the same id again would run it twice.
LIVE_JOB_STATUSES = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}


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


def enqueue_or_log(
    queue: Queue,
    func: str,
    *args: int,
    job_id: str,
    event: str,
    delay_s: float = 0,
    intervals: list[int] | None = None,
    **fields: Any,
) -> bool:
    """`enqueue_once`, where Redis failing is only logged as `event`: the sweeper enqueues what was missed.

    True if a job was enqueued, False if one with this id is still to run or Redis failed.
    """
    try:
        job = enqueue_once(queue, func, *args, job_id=job_id, delay_s=delay_s, intervals=intervals)
    except RedisError as error:
        log.warning(event, error=type(error).__name__, **fields)
        return False
    return job is not None

