"""The sweeper: finds work that Redis lost or never saw, and puts it (back) on the queue.

The database is the source of truth. An intake left `pending` (Redis was down when the
webhook tried), `queued`/`processing` with no job left in Redis (Redis restarted without its
append-only file, a worker was killed), or waiting for a status callback that never came, is
enqueued again; so are the follow-up jobs (delete at Twilio, transcription retry, urgent
notice) whose enqueue was lost. Several sweepers may run on several hosts: a Redis lock lets
one sweep at a time, and every claim is a conditional update in the database as well. Before
that, each sweeper files the reports its host's web processes spooled while the database was
down (ivr/spool.py): the spool is per host, so this runs whoever holds the lock.

Run it around the clock with `python -m workers.sweeper` (one process is enough; more are safe).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType

from redis.exceptions import LockError, RedisError
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FinishedJobRegistry, StartedJobRegistry
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ivr import queueing
from ivr.cases import pin_attempts
from ivr.cases.opening import record_event
from ivr.db import engine_for, make_sessionmaker, utc_now
from ivr.intake import claim_and_enqueue, enqueue_claimed
from ivr.logging import configure_logging, get_logger
from ivr.models import DONE, FAILED, PENDING, PROCESSING, QUEUED, Call, Case, Intake, StoredRecording, Transcript
from ivr.queueing import FORGET_CALL, FORGET_DELAY_S, job_id_for, make_queue
from ivr.retakes import DISCARDED, release_overdue
from ivr.settings import Settings, load_settings
from ivr.spool import ReportSpool
from ivr.spool import replay_quietly as replay_spool
from workers.deps import make_worker_redis
from workers.enqueue import enqueue_once
from workers.notify import unclaimed_urgent_ids
from workers.twilio_cleanup import call_has_ended, calls_to_forget
from workers.worker import JOB_MONITORING_INTERVAL_S

log = get_logger(__name__)

LOCK_NAME = "ivr:sweeper:lock"
LOCK_TTL_S = 300  # a sweeper that dies holding the lock blocks the others this long at most
_LOCK_TOKEN = uuid.uuid4().hex.encode()  # one per process (redis-py's lock compares bytes)
JUST_CLAIMED_S = 30  # a webhook may be between its claim and its enqueue: leave it that long
RECONCILE_JOB = queueing.RECONCILE
RETENTION_JOB = queueing.RETENTION
RETENTION_INTERVAL_S = 24 * 3600
TERMINAL_JOB_STATUSES = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
# A running job's worker refreshes its heartbeat every JOB_MONITORING_INTERVAL_S (10 s), and RQ
# keeps its started-registry entry alive for 60 s past each one. Three missed heartbeats: the
# whole worker was killed (a dead work horse alone its live worker notices by itself).
HEARTBEAT_TTL_S = JOB_MONITORING_INTERVAL_S + 60
ABANDONED_AFTER_S = 3 * JOB_MONITORING_INTERVAL_S
# A live RQ scheduler moves due jobs every second; one this late has no live scheduler (its
# worker was killed holding the lock, or no worker runs one).
OVERDUE_AFTER_S = 10


@dataclass
class SweepReport:
    """What one sweep did, by intake or case id."""

    enqueued: list[int] = field(default_factory=list)  # pending intakes put on the queue
    requeued: list[int] = field(default_factory=list)  # queued/processing intakes whose job was lost
    unready: list[int] = field(default_factory=list)  # status callback never came; fetched anyway
    failed: list[int] = field(default_factory=list)  # the job died for good: now failed, for a person
    releases: list[int] = field(default_factory=list)  # Twilio deletions scheduled
    transcriptions: list[int] = field(default_factory=list)  # transcription retries re-scheduled
    notifications: list[int] = field(default_factory=list)  # urgent notices re-scheduled (case ids)
    escalations: list[int] = field(default_factory=list)  # unclaimed urgent cases told to supervisors (case ids)
    forgets: list[int] = field(default_factory=list)  # anonymous calls' Twilio logs to delete (call ids)
    disguises: list[int] = field(default_factory=list)  # anonymous recordings still without a disguised copy
    abandoned: list[str] = field(default_factory=list)  # RQ jobs whose worker was killed whole (job ids)
    overdue: list[str] = field(default_factory=list)  # scheduled retries no scheduler moved (job ids)
    replayed: list[int] = field(default_factory=list)  # intakes filed from this host's spool
    released_holds: list[int] = field(default_factory=list)  # takes no longer waiting for a review
    dropped: list[str] = field(default_factory=list)  # finished jobs' records deleted (job ids): not counted
    skipped: bool = False  # another sweeper held the lock

    @property
    def total(self) -> int:
        """How many things were put on the queue or marked."""
        return sum(
            len(ids)
            for ids in (
                self.enqueued, self.requeued, self.unready, self.failed,
                self.releases, self.transcriptions, self.notifications, self.escalations, self.forgets, self.disguises,
                self.abandoned, self.overdue, self.replayed,
            )
        )


def sweep(
    sessions: sessionmaker[Session],
    queue: Queue,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> SweepReport:
    """One pass over the database; safe to run on several hosts at once."""
    settings = settings or load_settings()
    now = now or utc_now()
    # This host's spool first, lock or not (another host's sweeper cannot see it): what it files
    # is enqueued below, in this sweep if this one holds the lock.
    replayed = _replay_spool(sessions, settings)
    lock = queue.connection.lock(LOCK_NAME, timeout=LOCK_TTL_S, blocking=False)
    # This process's own token: a sweep that failed holding the lock (Redis failed over mid-sweep,
    # so its release failed too) must not keep this sweeper out until the lock expires.
    if not lock.acquire(blocking=False, token=_LOCK_TOKEN):
        if queue.connection.get(LOCK_NAME) != _LOCK_TOKEN:
            return SweepReport(replayed=replayed, skipped=True)
        lock.local.token = _LOCK_TOKEN
        lock.extend(LOCK_TTL_S, replace_ttl=True)
    report = SweepReport(replayed=replayed)
    try:
        queues = [queue, make_queue(queue.connection, settings.transcribe_queue_name)]
        for each in queues:
            _rescue_abandoned(each, report)
        for each in queues:
            _enqueue_overdue(each, report)
        _release_held(sessions, now, report)
        _enqueue_pending(sessions, queue, report)
        _requeue_lost(sessions, queue, settings, now, report)
        _enqueue_unready(sessions, queue, settings, now, report)
        _schedule_follow_ups(sessions, queue, settings, now, report)
        _escalate_unclaimed_urgent(sessions, queue, settings, now, report)
        _schedule_forgets(sessions, queue, settings, now, report)
        with sessions.begin() as session:  # the line's PIN counts of hours gone by (ivr.cases.pin_attempts)
            pin_attempts.prune_hours(session, now)
        # Last, and never in the way of the work above: a record left now goes at the next sweep.
        for each in queues:
            try:
                _drop_finished(each, report)
            except (RedisError, InvalidJobOperation, NoSuchJobError):
                log.warning("sweep.finished_jobs_kept", queue=each.name)
    finally:
        # Expired, or Redis went away: the TTL frees it either way.
        with contextlib.suppress(RedisError, LockError):
            lock.release()
    if report.total:
        log.info(
            "sweep.finished", enqueued=len(report.enqueued), requeued=len(report.requeued),
            unready=len(report.unready), failed=len(report.failed), releases=len(report.releases),
            transcriptions=len(report.transcriptions), notifications=len(report.notifications),
            escalations=len(report.escalations),
            forgets=len(report.forgets), disguises=len(report.disguises), abandoned=len(report.abandoned),
            overdue=len(report.overdue), replayed=len(report.replayed),
        )
    return report


def _drop_finished(queue: Queue, report: SweepReport) -> None:
    """Delete the records of finished jobs: the database holds what they did.

    A job's hash keeps when it was enqueued, started and ended, to the microsecond, and its id
    leads to the intake or call: for an anonymous call, exact timing the database no longer keeps
    (issue 10, item 3). RQ's result_ttl=0 would drop them at once, but that lost reports in the
    Sentinel failover test; here a job goes only once it is finished and seen so on a fresh read,
    and a job of the same id enqueued again meanwhile is left alone. Were one lost all the same,
    `_requeue_lost` enqueues its intake again.
    """
    registry = FinishedJobRegistry(queue=queue)
    for job_id in registry.get_job_ids():
        job = _fetch_job(queue, job_id)
        if job is None:
            registry.remove(job_id)
        elif job.get_status(refresh=True) == JobStatus.FINISHED:
            job.delete()
        else:
            continue
        report.dropped.append(job_id)


def _rescue_abandoned(queue: Queue, report: SweepReport) -> None:
    """Jobs whose worker was killed whole: retried at once (or failed, with no retries left), by RQ.

    RQ would notice only when the registry entry expires (70 s after the last heartbeat) and then
    wait out the retry backoff; a kill is not a flaky Twilio, so the retry runs now.
    """
    registry = StartedJobRegistry(queue=queue)
    cutoff = time.time() + HEARTBEAT_TTL_S - ABANDONED_AFTER_S  # i.e. last heartbeat before now - 30 s
    abandoned = registry.get_expired_job_ids(cutoff)
    if not abandoned:
        return
    registry.cleanup(cutoff)  # RQ's own handling: retries_left counted down, or FAILED
    scheduled = queue.scheduled_job_registry
    for job_id in abandoned:
        job = _fetch_job(queue, job_id)
        if job is not None and job.get_status(refresh=True) == JobStatus.SCHEDULED:
            with contextlib.suppress(InvalidJobOperation):  # a live scheduler moved it first
                scheduled.requeue(job, at_front=True)
        report.abandoned.append(job_id)
    log.warning("sweep.abandoned_jobs", queue=queue.name, jobs=len(abandoned))


def _enqueue_overdue(queue: Queue, report: SweepReport) -> None:
    """Retries past their time with no live scheduler (its worker was killed holding the lock)."""
    scheduled = queue.scheduled_job_registry
    for job_id in scheduled.get_jobs_to_schedule(int(time.time()) - OVERDUE_AFTER_S):
        with contextlib.suppress(InvalidJobOperation, NoSuchJobError):  # moved or gone meanwhile
            scheduled.requeue(job_id)
            report.overdue.append(job_id)


def _release_held(sessions: sessionmaker[Session], now: datetime, report: SweepReport) -> None:
    """Takes held for a review whose call ended (its status callback failed to send them) or that
    waited too long: sent now, and enqueued by the pass below (ivr.retakes)."""
    with sessions.begin() as session:
        report.released_holds.extend(release_overdue(session, now))


def _enqueue_pending(sessions: sessionmaker[Session], queue: Queue, report: SweepReport) -> None:
    """Ready intakes no job was ever made for (Redis was down when the webhook tried)."""
    with sessions() as session:
        ids = list(
            session.scalars(
                select(Intake.id)
                .where(Intake.status == PENDING, Intake.is_ready.is_(True), Intake.is_held.is_(False))
                .order_by(Intake.id)
            )
        )
    for intake_id in ids:
        # False when a webhook or another sweeper got there first, or Redis refused it.
        if claim_and_enqueue(sessions, queue, intake_id):
            report.enqueued.append(intake_id)


def _enqueue_unready(
    sessions: sessionmaker[Session], queue: Queue, settings: Settings, now: datetime, report: SweepReport
) -> None:
    """Intakes whose recording status callback never came: the download retries until it is there."""
    cutoff = now - timedelta(seconds=settings.unready_after_s)
    with sessions() as session:
        ids = list(
            session.scalars(
                select(Intake.id)
                .where(Intake.status == PENDING, Intake.is_ready.is_(False), Intake.created_at < cutoff,
                       Intake.is_held.is_(False))
                .order_by(Intake.id)
            )
        )
    for intake_id in ids:
        if claim_and_enqueue(sessions, queue, intake_id, is_ready=False):
            report.unready.append(intake_id)


def _requeue_lost(
    sessions: sessionmaker[Session], queue: Queue, settings: Settings, now: datetime, report: SweepReport
) -> None:
    """Queued or processing intakes whose job Redis no longer has, or that are stuck."""
    with sessions() as session:
        rows = session.execute(
            select(Intake.id, Intake.status, Intake.updated_at).where(Intake.status.in_((QUEUED, PROCESSING)))
        ).all()
    for intake_id, status, updated_at in rows:
        age_s = (now - updated_at).total_seconds()
        job = _fetch_job(queue, job_id_for(intake_id))
        job_status = job.get_status(refresh=False) if job is not None else None
        if job_status in TERMINAL_JOB_STATUSES:
            # RQ gave up without our code marking the intake: the work horse was killed or
            # timed out on the last attempt. Retrying blindly could crash-loop; a person decides.
            if _mark_failed(sessions, intake_id, status, "the worker stopped mid-job on its last attempt"):
                report.failed.append(intake_id)
            continue
        if job_status in (JobStatus.SCHEDULED, JobStatus.DEFERRED):
            continue  # a retry is waiting out its backoff, which can be long
        if job is not None and job_status == JobStatus.QUEUED and age_s >= JUST_CLAIMED_S and _off_its_queue(job):
            job_status = None  # a Redis failover kept the job but lost its place on the queue: lost
        if job_status in (JobStatus.QUEUED, JobStatus.STARTED) and age_s < settings.stuck_after_s:
            continue
        if job_status is None and age_s < JUST_CLAIMED_S:
            continue
        # Lost (no job), finished without finishing the intake, or stuck past the job timeout.
        with sessions.begin() as session:
            touched = session.execute(
                update(Intake)
                .where(Intake.id == intake_id, Intake.status == status, Intake.updated_at == updated_at)
                .values(status=QUEUED, enqueued_at=utc_now(), updated_at=utc_now())
            )
            if getattr(touched, "rowcount", 0) != 1:
                continue  # it moved meanwhile: a worker is on it
        if job is not None:
            job.delete()
        if enqueue_claimed(sessions, queue, intake_id):
            report.requeued.append(intake_id)


def _off_its_queue(job: Job) -> bool:
    """A job Redis says is queued but that is on no queue list, and no worker took it meanwhile.

    Replication is asynchronous: a failover can keep a job's hash and lose the push onto its queue,
    or keep a worker's pop and lose the write that marked it started. Such a job would wait out
    `stuck_after_s` (40 minutes) before anything retried it.
    """
    if job.connection.lpos(Queue(job.origin, connection=job.connection).key, job.id) is not None:
        return False
    return job.get_status(refresh=True) == JobStatus.QUEUED


def _schedule_follow_ups(
    sessions: sessionmaker[Session], queue: Queue, settings: Settings, now: datetime, report: SweepReport
) -> None:
    """Twilio deletions, transcription retries and urgent notices whose job was lost or not yet due."""
    with sessions() as session:
        if not settings.keep_on_twilio:
            pending_release = session.execute(
                select(StoredRecording.intake_id, Intake, Call)
                .join(Intake, Intake.id == StoredRecording.intake_id)
                .join(Call, Call.id == Intake.call_id)
                .where(StoredRecording.deleted_at_twilio.is_(None), StoredRecording.purged_at.is_(None))
            ).all()
            for intake_id, intake, call in pending_release:
                if call_has_ended(call, intake, settings, now) and enqueue_once(
                    queue, queueing.RELEASE_AT_TWILIO, intake_id, job_id=f"release-{intake_id}"
                ):
                    report.releases.append(intake_id)
            calls_left = session.execute(
                select(Case.call_id, StoredRecording.intake_id, StoredRecording.deleted_at_twilio)
                .join(Call, Call.id == Case.call_id)
                .join(Intake, Intake.call_id == Case.call_id)
                .outerjoin(StoredRecording, StoredRecording.intake_id == Intake.id)
                .where(Case.is_anonymous.is_(True), Call.deleted_at_twilio.is_(None))
                # A discarded take whose job deleted it at Twilio has nothing left there.
                .where(or_(Intake.kind != DISCARDED, Intake.status != DONE))
            ).all()
            by_call: dict[int, list[tuple[int | None, datetime | None]]] = {}
            for call_id, intake_id, deleted_at in calls_left:
                by_call.setdefault(call_id, []).append((intake_id, deleted_at))
            for entries in by_call.values():
                if all(intake_id is not None and deleted_at is not None for intake_id, deleted_at in entries):
                    last = max(intake_id for intake_id, _ in entries if intake_id is not None)
                    if enqueue_once(queue, queueing.RELEASE_AT_TWILIO, last, job_id=f"release-{last}"):
                        report.releases.append(last)
        if settings.transcriber != "none":
            most = len(settings.transcribe_retry_intervals_s) + 1
            failed = session.scalars(
                select(Transcript.intake_id).where(Transcript.status == "failed", Transcript.attempts < most)
            ).all()
            # Cases opened without their transcription job reaching Redis (it was down).
            never = session.scalars(
                select(Intake.id)
                .join(StoredRecording, StoredRecording.intake_id == Intake.id)
                .outerjoin(Transcript, Transcript.intake_id == Intake.id)
                .where(Intake.status == DONE, Transcript.id.is_(None), StoredRecording.purged_at.is_(None))
            ).all()
            intervals = list(settings.transcribe_retry_intervals_s)
            transcribe = make_queue(queue.connection, settings.transcribe_queue_name)
            for intake_id in [*failed, *never]:
                if enqueue_once(
                    transcribe, queueing.TRANSCRIBE_INTAKE, intake_id, job_id=f"transcribe-{intake_id}",
                    delay_s=intervals[0] if intervals and intake_id in failed else 0, intervals=intervals,
                ):
                    report.transcriptions.append(intake_id)
        undisguised = session.scalars(
            select(StoredRecording.intake_id)
            .join(Intake, Intake.id == StoredRecording.intake_id)
            .join(Call, Call.id == Intake.call_id)
            .where(
                Call.is_anonymous.is_(True), StoredRecording.disguised_key.is_(None),
                StoredRecording.purged_at.is_(None),
            )
        ).all()
        for intake_id in undisguised:
            if enqueue_once(
                queue, queueing.DISGUISE_INTAKE, intake_id, job_id=f"disguise-{intake_id}",
                intervals=list(queueing.RETRY_INTERVALS_S),
            ):
                report.disguises.append(intake_id)
        if settings.urgent_webhook_url:
            unnotified = session.scalars(
                select(Case.id).where(Case.is_urgent.is_(True), Case.notified_at.is_(None))
            ).all()
            for case_id in unnotified:
                if enqueue_once(
                    queue, queueing.NOTIFY_URGENT, case_id, job_id=f"notify-{case_id}",
                    intervals=settings.notify_retry_intervals_s,
                ):
                    report.notifications.append(case_id)


def _escalate_unclaimed_urgent(
    sessions: sessionmaker[Session], queue: Queue, settings: Settings, now: datetime, report: SweepReport
) -> None:
    """Urgent cases nobody claimed within `urgent_unclaimed_after_min`: one notice to the supervisors.

    Here rather than in the console, so it happens with no browser open; the job stamps the case.
    """
    if not settings.urgent_webhook_url:
        return
    with sessions() as session:
        case_ids = unclaimed_urgent_ids(session, now, settings.urgent_unclaimed_after_min)
    for case_id in case_ids:
        if enqueue_once(
            queue, queueing.ESCALATE_URGENT, case_id, job_id=f"escalate-{case_id}",
            intervals=settings.notify_retry_intervals_s,
        ):
            report.escalations.append(case_id)


def _schedule_forgets(
    sessions: sessionmaker[Session], queue: Queue, settings: Settings, now: datetime, report: SweepReport
) -> None:
    """Anonymous calls without a case whose Twilio log is still there (the status callback's job was lost)."""
    if settings.keep_on_twilio:
        return
    with sessions() as session:
        call_ids = calls_to_forget(session, now, older_than_s=FORGET_DELAY_S * 2)
    for call_id in call_ids:
        if enqueue_once(queue, FORGET_CALL, call_id, job_id=f"forget-{call_id}"):
            report.forgets.append(call_id)


def _replay_spool(sessions: sessionmaker[Session], settings: Settings) -> list[int]:
    """File the reports this host spooled while the database was down; the intake ids filed."""
    from ivr.cases.reference import PinHasher  # only when there is something to file: it hashes at start
    from ivr.crypto import Cipher

    spool = ReportSpool(settings.spool_dir, Cipher(settings.data_keys))
    if not spool.has_records():
        return []
    return replay_spool(spool, sessions, PinHasher(settings.data_keys)) or []


def _mark_failed(sessions: sessionmaker[Session], intake_id: int, status: str, reason: str) -> bool:
    with sessions.begin() as session:
        result = session.execute(
            update(Intake)
            .where(Intake.id == intake_id, Intake.status == status)
            .values(status=FAILED, last_error=reason, updated_at=utc_now())
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        call_id = session.get_one(Intake, intake_id).call_id
        record_event(session, "intake.failed", call_id=call_id, intake_id=intake_id, reason="worker_lost")
    return True


def _fetch_job(queue: Queue, job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=queue.connection)
    except Exception:  # NoSuchJobError, or a job hash too damaged to read: treat as lost
        return None



def run_forever(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Sweep every `sweep_interval_s` until SIGTERM/SIGINT (or `stop` is set)."""
    stop = stop or threading.Event()
    engine = engine_for(settings)
    sessions = make_sessionmaker(engine)
    queue = make_queue(make_worker_redis(settings.redis_url), settings.queue_name)
    log.info("sweeper.started", interval_s=settings.sweep_interval_s)
    due_at = {RECONCILE_JOB: 0.0, RETENTION_JOB: 0.0}
    every_s = {RECONCILE_JOB: settings.reconcile_interval_s, RETENTION_JOB: RETENTION_INTERVAL_S}
    failing = False
    while not stop.is_set():
        try:
            sweep(sessions, queue, settings=settings)
            for job, when in due_at.items():
                if time.monotonic() >= when:
                    # Periodic jobs go through the queue, so they run once however many sweepers.
                    enqueue_once(queue, job, job_id=job.rsplit(".", 1)[-1])
                    due_at[job] = time.monotonic() + every_s[job]
            if failing:
                log.info("sweep.recovered")
                failing = False
        except Exception as exc:  # Redis or the database is down: say so once, try again next round
            if not failing:
                if isinstance(exc, RedisError | OSError):
                    log.warning("sweep.failed", error=type(exc).__name__, hint="retrying every interval")
                else:
                    log.exception("sweep.failed")
            failing = True
        stop.wait(settings.sweep_interval_s)
    engine.dispose()
    log.info("sweeper.stopped")


def main() -> None:
    """`python -m workers.sweeper`: the long-running loop for the Procfile."""
    settings = load_settings()
    configure_logging(settings)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    run_forever(settings, stop=stop)


if __name__ == "__main__":
    main()
