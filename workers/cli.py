"""Worker-side commands of the `ivr` console script: intakes, sweeping, reconciling, retention, worker."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from sqlalchemy import select, update

from ivr.cases.opening import record_event
from ivr.db import make_engine, make_sessionmaker, utc_now
from ivr.logging import configure_logging
from ivr.models import DONE, FAILED, INTAKE_STATUSES, QUEUED, Intake
from ivr.queueing import enqueue_processing, job_id_for, make_queue
from ivr.settings import load_settings
from workers.deps import make_worker_redis


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `intake`, `sweep`, `reconcile`, `retention` and `worker` to the `ivr` command."""
    intake = subparsers.add_parser("intake", help="recordings being processed")
    intake_sub = intake.add_subparsers(dest="intake_command", required=True)
    retry = intake_sub.add_parser("retry", help="process failed intakes again")
    retry.add_argument("ids", nargs="*", type=int, default=[], metavar="ID")
    retry.add_argument("--all-failed", action="store_true", help="every intake in status failed")
    retry.set_defaults(func=cmd_intake_retry)
    listing = intake_sub.add_parser("list", help="intakes, newest first")
    listing.add_argument("--status", choices=INTAKE_STATUSES)
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=cmd_intake_list)

    sweep = subparsers.add_parser("sweep", help="enqueue intakes Redis lost or never saw")
    sweep.add_argument("--forever", action="store_true", help="keep sweeping every IVR_SWEEP_INTERVAL_S")
    sweep.set_defaults(func=cmd_sweep)

    reconcile = subparsers.add_parser("reconcile", help="file recordings Twilio has and we do not")
    reconcile.add_argument("--hours", type=int, default=None, help="window (default IVR_RECONCILE_WINDOW_H)")
    reconcile.set_defaults(func=cmd_reconcile)

    retention = subparsers.add_parser("retention", help="purge closed cases past the retention period")
    retention.add_argument("--dry-run", action="store_true", help="list what would go, change nothing")
    retention.set_defaults(func=cmd_retention)

    worker = subparsers.add_parser("worker", help="run an RQ worker (with scheduler): intake, then transcriptions")
    worker.add_argument("--burst", action="store_true", help="quit when the queue is empty")
    worker.add_argument("--name", default=None)
    worker.add_argument(
        "--queue", action="append", choices=["intake", "transcribe"], dest="queues",
        help="only this queue (repeatable); default both, intake first",
    )
    worker.set_defaults(func=cmd_worker)


def run_simulated_worker(sandbox: Any, result: Any) -> int:
    """`ivr simulate --worker`: the worker steps on the simulated call, in this process, on the sandbox's storage."""
    from workers.deps import WorkerDeps, set_worker_deps
    from workers.intake import process_intake
    from workers.transcription import transcribe_intake

    print("Running the worker steps: download from the Twilio stand-in, store, open the case, transcribe…")
    deps = WorkerDeps.from_settings(sandbox.settings)
    set_worker_deps(deps)

    def every_step(intake_id: int) -> None:
        # A real line transcribes on its own queue after the case is open; here both run in turn.
        process_intake(intake_id)
        transcribe_intake(intake_id)

    try:
        outcome = sandbox.process(result, every_step)
    finally:
        deps.transcribe_queue.delete(delete_jobs=True)  # the job process_intake put there, done above
        set_worker_deps(None)
        deps.close()
    for error in outcome.errors:
        print(f"  worker error: {error}", file=sys.stderr)
    if outcome.case_id is None:
        print("No case was opened.", file=sys.stderr)
        return 1
    print(f"Case #{outcome.case_id} ({result.reference}): status {outcome.status}, "
          f"transcript {outcome.transcript_status}; intakes {', '.join(outcome.intake_statuses)}; "
          f"deleted at Twilio: {len(outcome.deleted_at_twilio)}")
    for text in outcome.transcripts:
        print(f"  Transcript: {text or '(empty)'}")
    return 1 if outcome.errors else 0


def _print(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str, indent=2))


def cmd_intake_retry(args: argparse.Namespace) -> int:
    """Put failed (or named) intakes back on the queue, with a fresh set of retries."""
    if bool(args.ids) == bool(args.all_failed):
        print("name intake ids, or --all-failed (not both)", file=sys.stderr)
        return 2
    settings = load_settings()
    engine = make_engine(settings.database_url, data_keys=settings.data_keys)
    sessions = make_sessionmaker(engine)
    queue = make_queue(make_worker_redis(settings.redis_url), settings.queue_name)
    with sessions() as session:
        query = select(Intake.id).order_by(Intake.id)
        query = query.where(Intake.status == FAILED) if args.all_failed else query.where(Intake.id.in_(args.ids))
        ids = list(session.scalars(query))
    missing = sorted(set(args.ids) - set(ids))
    retried = []
    for intake_id in ids:
        with sessions.begin() as session:
            result = session.execute(
                update(Intake)
                .where(Intake.id == intake_id, Intake.status != DONE)
                .values(status=QUEUED, attempts=0, enqueued_at=utc_now(), updated_at=utc_now())
            )
            if getattr(result, "rowcount", 0) != 1:
                continue
            record_event(session, "intake.retried", actor="cli", intake_id=intake_id)
        old = queue.fetch_job(job_id_for(intake_id))
        if old is not None:
            old.delete()  # the failed run; the new one starts with all its retries
        enqueue_processing(queue, intake_id)
        retried.append(intake_id)
    engine.dispose()
    _print({"retried": retried, "not_found": missing, "skipped_done": sorted(set(ids) - set(retried))})
    return 1 if missing else 0


def cmd_intake_list(args: argparse.Namespace) -> int:
    """Intakes with their status, attempts and last error (ids and counts only)."""
    settings = load_settings()
    engine = make_engine(settings.database_url, data_keys=settings.data_keys)
    with make_sessionmaker(engine)() as session:
        query = select(Intake).order_by(Intake.id.desc()).limit(args.limit)
        if args.status:
            query = query.where(Intake.status == args.status)
        rows = [
            {
                "id": i.id,
                "call_id": i.call_id,
                "kind": i.kind,
                "status": i.status,
                "is_ready": i.is_ready,
                "duration_s": i.duration_s,
                "attempts": i.attempts,
                "last_error": i.last_error,
                "created_at": i.created_at,
            }
            for i in session.scalars(query)
        ]
    engine.dispose()
    _print(rows)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """One sweep, or the long-running loop with --forever."""
    from workers import sweeper

    settings = load_settings()
    configure_logging(settings)
    if args.forever:
        stop = threading.Event()
        _stop_on_signals(stop)
        sweeper.run_forever(settings, stop=stop)
        return 0
    engine = make_engine(settings.database_url, data_keys=settings.data_keys)
    queue = make_queue(make_worker_redis(settings.redis_url), settings.queue_name)
    report = sweeper.sweep(make_sessionmaker(engine), queue, settings=settings)
    engine.dispose()
    _print(report.__dict__)
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    """List Twilio's recordings for the window and file the ones we lack."""
    from workers.reconcile import reconcile

    configure_logging(load_settings())
    report = reconcile(args.hours)
    _print(report.__dict__)
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    """Purge closed cases past the retention period (or list them with --dry-run)."""
    from workers.retention import run_retention

    configure_logging(load_settings())
    report = run_retention(dry_run=args.dry_run)
    _print(report.__dict__)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run the worker until SIGTERM (the current job finishes first)."""
    from workers.worker import run_worker

    run_worker(load_settings(), burst=args.burst, name=args.name, queues=args.queues or ("intake", "transcribe"))
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    import signal

    def request_stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
