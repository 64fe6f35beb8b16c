"""The worker-side `ivr` commands, run through `ivr.cli.main` with settings from the environment."""

from __future__ import annotations

import json

import pytest
from rq.job import Job

from ivr.cli import main
from ivr.models import DONE, FAILED, QUEUED, Intake
from ivr.queueing import job_id_for
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.workers.test_e2e_support import worker_env
from tests.workers.test_jobs_support import add_intake, audit_actions, run_jobs
from workers.deps import WorkerDeps, set_worker_deps


@pytest.fixture
def environment(deps: WorkerDeps, monkeypatch: pytest.MonkeyPatch) -> WorkerDeps:
    """The process environment a deployed `ivr` command would see; commands build their own deps."""
    for name, value in worker_env(deps.settings).items():
        monkeypatch.setenv(name, value)
    set_worker_deps(None)
    return deps


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()  # what the jobs logged before
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def status_of(deps: WorkerDeps, intake_id: int) -> str:
    with deps.sessions() as session:
        return session.get_one(Intake, intake_id).status


def test_failed_intake_listed_then_retried_with_fresh_retries(
    environment: WorkerDeps, fake_api: FakeTwilioApi, fast_retries: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    deps = environment
    set_worker_deps(deps)
    bad = add_intake(deps, fake_api, audio=b"not audio at all" * 100)
    good = add_intake(deps, fake_api)
    run_jobs(deps.queue)
    set_worker_deps(None)
    assert (status_of(deps, bad), status_of(deps, good)) == (FAILED, DONE)

    listed = run(capsys, "intake", "list", "--status", "failed")
    assert [(row["id"], row["attempts"]) for row in listed] == [(bad, 3)]  # type: ignore[union-attr]
    assert listed[0]["last_error"].startswith("BadAudio")  # type: ignore[index]

    retried = run(capsys, "intake", "retry", "--all-failed")

    assert retried == {"retried": [bad], "not_found": [], "skipped_done": []}
    assert status_of(deps, bad) == QUEUED
    job = Job.fetch(job_id_for(bad), connection=deps.redis)
    assert job.retries_left == len(fast_retries) and job.args == (bad,)
    assert "intake.retried" not in audit_actions(deps.sessions)  # written by the cli, not the worker


def test_retry_by_id_skips_done_and_reports_unknown(
    environment: WorkerDeps, fake_api: FakeTwilioApi, capsys: pytest.CaptureFixture[str]
) -> None:
    deps = environment
    set_worker_deps(deps)
    done = add_intake(deps, fake_api)
    run_jobs(deps.queue)
    set_worker_deps(None)

    capsys.readouterr()
    assert main(["intake", "retry", str(done), "999"]) == 1
    assert json.loads(capsys.readouterr().out) == {"retried": [], "not_found": [999], "skipped_done": [done]}
    assert main(["intake", "retry"]) == 2


def test_sweep_reconcile_and_retention_commands(
    environment: WorkerDeps, fake_api: FakeTwilioApi, capsys: pytest.CaptureFixture[str]
) -> None:
    pending = add_intake(environment, fake_api, enqueue=False)

    swept = run(capsys, "sweep")
    assert swept["enqueued"] == [pending]  # type: ignore[index]
    reconciled = run(capsys, "reconcile", "--hours", "1")
    assert reconciled["listed"] == 1 and reconciled["recovered"] == []  # type: ignore[index]
    retention = run(capsys, "retention", "--dry-run")
    assert retention == {"dry_run": True, "cases": [], "recordings": 0, "transcripts": 0, "contacts": 0,
                         "pins": 0, "proofs_kept": 0}
