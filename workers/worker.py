"""The RQ workers the Procfile runs: `ivr worker` (intake, then transcriptions) and
`ivr worker --queue transcribe` (transcriptions only), with RQ's scheduler.

RQ's own `Worker` forks a work horse per job, so a job that crashes or is killed takes only
the horse down, and the job's timeout is enforced from outside. Shutdown is RQ's: the first
SIGTERM lets the current job finish (warm shutdown), a second one kills it (cold), and a job
whose worker died is retried from RQ's started-job registry or re-enqueued by the sweeper.
Give the process manager's stop timeout room for one job (e.g. systemd TimeoutStopSec=1800).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence

from rq import Queue, Worker
from rq.job import Job
from rq.worker import WorkerStatus

from ivr.logging import configure_logging
from ivr.queueing import RESULT_TTL_S
from ivr.settings import Settings, load_settings
from workers.deps import WorkerDeps, make_worker_redis, set_worker_deps
from workers.redis_watch import REDIS_DOWN, watch_redis

# RQ's registry clean-up, which an idle worker runs only between blocking dequeues (405 s
# apart): a backstop. Jobs of a worker killed whole are found by the sweeper within 30-45 s
# (missed heartbeats), and retries a dead scheduler left behind it moves too (workers/sweeper.py).
MAINTENANCE_INTERVAL_S = 120
# How often a worker checks on its work horse; a dead horse is noticed within this.
JOB_MONITORING_INTERVAL_S = 10


QUEUES = ("intake", "transcribe")
"""What `ivr worker --queue` accepts; without it a worker takes both, intake first."""


def queue_names(settings: Settings, queues: Sequence[str] = QUEUES) -> list[str]:
    """The RQ queue names for `--queue` choices, intake first whatever the order given."""
    names = {"intake": settings.queue_name, "transcribe": settings.transcribe_queue_name}
    return [names[kind] for kind in QUEUES if kind in queues]


class HotlineWorker(Worker):
    """RQ's forking worker, except that transcriptions run in this process, with its one model.

    Loading the speech model took 1.3 s of a 3 s job in every forked work horse, and a model
    loaded before a fork hangs the child (its OpenMP threads stay behind), so transcription
    jobs run here, like RQ's SimpleWorker: the same job timeout (RQ's SIGALRM death penalty in
    this, the main thread), heartbeats from a thread so the job never looks abandoned. Intake
    jobs still fork, so a crash there takes only the horse down.
    """

    in_process_queues: frozenset[str] = frozenset()

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Fork for intake jobs; run transcriptions here."""
        if queue.name not in self.in_process_queues:
            super().execute_job(job, queue)
            return
        execution = self.prepare_execution(job)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.job_monitoring_interval):
                try:
                    self.maintain_heartbeats(job, execution)
                except Exception:  # Redis blinked: the next beat tries again
                    self.log.warning("heartbeat of %s failed", job.id, exc_info=True)

        beating = threading.Thread(target=beat, name="heartbeat", daemon=True)
        beating.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            stop.set()
            beating.join()
        self.set_state(WorkerStatus.IDLE)
        if _model_stuck():
            # A hung model thread only ends with its process: stop after this job; the process
            # manager starts a fresh worker (and the job's retry runs on it).
            self.log.warning("a transcription thread is stuck: this worker stops for a fresh one")
            self._stop_requested = True


def _model_stuck() -> bool:
    return any(thread.name == "transcribe" and thread.is_alive() for thread in threading.enumerate())


def make_worker(settings: Settings, *, name: str | None = None, queues: Sequence[str] = QUEUES) -> Worker:
    """An RQ worker on the intake and/or transcription queue (intake first: cases before transcripts)."""
    redis = make_worker_redis(settings.redis_url)
    worker = HotlineWorker(
        [Queue(queue, connection=redis) for queue in queue_names(settings, queues)],
        name=name,
        connection=redis,
        default_result_ttl=RESULT_TTL_S,
        maintenance_interval=MAINTENANCE_INTERVAL_S,
        job_monitoring_interval=JOB_MONITORING_INTERVAL_S,
    )
    worker.in_process_queues = frozenset({settings.transcribe_queue_name})
    return worker


def run_worker(
    settings: Settings, *, burst: bool = False, name: str | None = None, queues: Sequence[str] = QUEUES
) -> bool:
    """Work the queues (with the scheduler, for retries) until stopped, or until empty in burst mode."""
    configure_logging(settings)
    # Built before forking so each work horse starts with settings, store and engine ready;
    # `worker_deps()` drops inherited connections in the horse. The speech model loads here, once,
    # on the first transcription (which runs in this process, see HotlineWorker).
    set_worker_deps(WorkerDeps.from_settings(settings))
    # Redis down (at start or mid-run): wait with back-off and say so once, never crash-loop.
    watch = watch_redis(make_worker_redis(settings.redis_url))
    while True:
        watch.wait_until_up()
        worker = make_worker(settings, name=name, queues=queues)
        try:
            return worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level.upper())
        except REDIS_DOWN:
            continue  # the watch has logged the outage; a fresh worker registers once Redis is back


def main(argv: list[str] | None = None) -> None:
    """`python -m workers.worker [--burst]`."""
    parser = argparse.ArgumentParser(prog="python -m workers.worker")
    parser.add_argument("--burst", action="store_true", help="quit when the queue is empty")
    args = parser.parse_args(argv)
    run_worker(load_settings(), burst=args.burst)


if __name__ == "__main__":
    main()
