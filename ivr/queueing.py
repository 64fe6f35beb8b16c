"""The one place that names job paths and connects to Redis.

The web side enqueues by dotted name (never importing `workers`), with ids as the only
arguments: RQ keeps failed jobs with their arguments, and caller data must never be there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import unquote

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry
from redis.sentinel import Sentinel
from rq import Queue, Retry
from rq.job import Job

# Jobs queued by an older release may still name `workers.jobs.*` and `workers.forget.*`:
# those modules stay as aliases for one release (see workers/jobs.py).
PROCESS_INTAKE = "workers.intake.process_intake"
TRANSCRIBE_INTAKE = "workers.transcription.transcribe_intake"
DISGUISE_INTAKE = "workers.intake.disguise_intake"
RELEASE_AT_TWILIO = "workers.twilio_cleanup.release_at_twilio"
NOTIFY_URGENT = "workers.notify.notify_urgent"
ESCALATE_URGENT = "workers.notify.escalate_unclaimed_urgent"
RECONCILE = "workers.reconcile.reconcile"
RETENTION = "workers.retention.run_retention"
FORGET_CALL = "workers.twilio_cleanup.forget_call"
INTAKE_QUEUE = "intake"
TRANSCRIBE_QUEUE = "transcribe"
"""Transcriptions have their own queue and workers, so a slow model never delays a case."""
FORGET_DELAY_S = 15 * 60  # recordings of the call are fetched and deleted at Twilio first
RETRY_INTERVALS_S = [15, 60, 300, 900, 3600]
JOB_TIMEOUT_S = 1800
# A job's hash in Redis keeps when it was enqueued, started and ended, to the microsecond, and
# its id leads to the intake: for an anonymous call, exact timing the database no longer keeps.
# A failed one is kept a day (the intake row is what a person reads: `ivr intake list`). A
# finished one is deleted by the next sweep (workers/sweeper.py `_drop_finished`); dropping it at
# once (result_ttl 0) lost reports in the Sentinel failover test (2 runs in 5), cause not found,
# so RQ keeps it until then.
RESULT_TTL_S = 24 * 3600
FAILURE_TTL_S = 24 * 3600


SENTINEL_SCHEME = "redis+sentinel://"


@dataclass(frozen=True)
class SentinelTarget:
    """Where the Sentinels are and which service (master group) they watch."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None


def parse_sentinel_url(url: str) -> SentinelTarget:
    """`redis+sentinel://[[user]:password@]h1:26379,h2:26379/service[/db]` as a target; ValueError if not."""
    if not url.startswith(SENTINEL_SCHEME):
        raise ValueError(f"not a {SENTINEL_SCHEME} URL")
    netloc, _, path = url[len(SENTINEL_SCHEME):].partition("/")
    userinfo, _, hosts = netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    sentinels = []
    for item in filter(None, (part.strip() for part in hosts.split(","))):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"sentinel {item!r} is not host:port")
        sentinels.append((host.strip("[]"), int(port)))
    parts = [part for part in path.split("?", 1)[0].split("/") if part]
    if not sentinels or not parts or len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ValueError("must read redis+sentinel://host:port[,host:port...]/service[/db]")
    return SentinelTarget(
        sentinels=tuple(sentinels),
        service=unquote(parts[0]),
        db=int(parts[1]) if len(parts) == 2 else 0,
        username=unquote(username) or None,
        password=unquote(password) or None,
    )


def sentinel_url(sentinels: str, service: str, db: int = 0) -> str:
    """The URL form of IVR_REDIS_SENTINELS (`h1:26379,h2:26379`) plus IVR_REDIS_SERVICE."""
    hosts = ",".join(part.strip() for part in sentinels.split(",") if part.strip())
    return f"{SENTINEL_SCHEME}{hosts}/{service}/{db}"


def make_redis(url: str, *, timeout_s: float = 0.5, patient: bool = False) -> Redis:
    """The one way this code connects to Redis: a plain URL, or the master a set of Sentinels names.

    The web side keeps the default short timeout (a webhook must answer even when Redis is down);
    workers, the sweeper and the CLI pass a longer one. A Sentinel-managed client asks the
    Sentinels for the master on every new connection, so after a failover the next command
    reaches the new master; RQ rebuilds its scheduler's connection from the same pool settings.
    """
    # redis-py's default retries a failed command three times with 1, 2, 4 s pauses: right for a
    # worker (`patient`), far too long for a webhook, which tries once more at once (after a
    # failover that second try reaches the new master) and then answers without Redis.
    retry = {} if patient else {"retry": RedisRetry(NoBackoff(), 1)}
    if not url.startswith(SENTINEL_SCHEME):
        return Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, **retry)
    target = parse_sentinel_url(url)
    timeouts = {"socket_connect_timeout": timeout_s, "socket_timeout": timeout_s}
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=dict(timeouts), **timeouts)  # type: ignore[no-untyped-call]
    client: Redis = sentinel.master_for(  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        target.service, db=target.db, username=target.username, password=target.password, **retry
    )
    return client


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
