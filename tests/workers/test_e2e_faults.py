"""Faults end to end: replayed and reordered callbacks, a SIGKILLed worker, Redis down, two workers."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest
from sqlalchemy import select

from ivr.db import utc_now
from ivr.models import DONE, PENDING, Call, Intake, StoredRecording
from tests.conftest import ROOT
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.services import RedisServer
from tests.support.twilio_sim import RECORDING_CALLBACK_MODES, FlaskTransport, Hangup, Input, Press, Silence, Talk
from tests.workers.test_e2e_support import cases, finish, intakes, kill, simulator, start_worker, wait_for, worker_env
from tests.workers.test_jobs_support import add_intake, audit_actions, count, run_jobs
from workers.deps import WorkerDeps
from workers.sweeper import sweep

REPORT: list[Input] = [Press("2"), Press("1"), Press("02"), Talk(12), Press("3"), Silence()]
HUNG_UP: list[Input] = [Press("2"), Press("1"), Press("02"), Silence(), Hangup(recorded_s=9)]  # silence: the guidance


def sweep_later(deps: WorkerDeps, seconds: float) -> None:
    """A sweep as it would run `seconds` from now."""
    from datetime import timedelta

    sweep(deps.sessions, deps.queue, settings=deps.settings, now=utc_now() + timedelta(seconds=seconds))


def assert_one_report(deps: WorkerDeps) -> None:
    assert len(cases(deps.sessions)) == 1
    [intake] = intakes(deps.sessions)
    assert intake.status == DONE
    assert count(deps.sessions, Call) == count(deps.sessions, StoredRecording) == 1
    actions = audit_actions(deps.sessions)
    assert actions.count("recording.stored") == actions.count("case.opened") == 1, actions
    assert sorted(deps.store.keys()) == sorted(
        [f"intake-{intake.id}/original.wav", f"intake-{intake.id}/disguised.wav"]
    )


def test_recording_callback_replayed_ten_times_concurrently_gives_one_case(
    wired_app, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi  # type: ignore[no-untyped-def]
) -> None:
    sim = simulator(wired_app, fake_api)
    result = sim.call(REPORT)
    [(url, form, status, _)] = [r for r in result.requests if "/voice/recording-status" in r[0]]
    assert status == 204
    answers: list[int] = []

    def replay() -> None:
        own = simulator(wired_app, fake_api)
        own.transport = FlaskTransport(wired_app.test_client())
        answers.append(own.post(url, form)[0])

    threads = [threading.Thread(target=replay) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    run_jobs(e2e_deps.queue)

    assert answers == [204] * 10
    assert_one_report(e2e_deps)


@pytest.mark.parametrize("script", [REPORT, HUNG_UP], ids=["talk", "hang-up"])
@pytest.mark.parametrize("mode", RECORDING_CALLBACK_MODES)
def test_every_order_of_callbacks_and_hang_up_gives_one_case(
    wired_app, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi, mode: str, script: list[Input]  # type: ignore[no-untyped-def]
) -> None:
    simulator(wired_app, fake_api, recording_callbacks=mode).call(script)
    if mode == "never":
        # Only the record action came: the recording is fetched once the sweeper stops waiting.
        assert [i.status for i in intakes(e2e_deps.sessions)] == [PENDING]
        sweep_later(e2e_deps, e2e_deps.settings.unready_after_s + 1)

    run_jobs(e2e_deps.queue)

    assert_one_report(e2e_deps)
    assert fake_api.recording_sids() == []


def test_worker_killed_mid_job_then_restarted_gives_one_case_and_one_file(
    e2e_settings, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi  # type: ignore[no-untyped-def]
) -> None:
    intake_id = add_intake(e2e_deps, fake_api, is_anonymous=True, duration_s=6)
    with e2e_deps.sessions() as session:
        sid = session.get_one(Intake, intake_id).recording_sid
    fake_api.fail_next(sid, 1, "timeout", stall_s=10)  # the download hangs: the worker is mid-job
    worker = start_worker(e2e_settings, IVR_DOWNLOAD_TIMEOUT_S="30")
    wait_for(lambda: fake_api.requests_matching("GET", f"/Recordings/{sid}"), timeout_s=60)

    kill(worker)

    [intake] = intakes(e2e_deps.sessions)
    assert intake.status == "processing" and count(e2e_deps.sessions, StoredRecording) == 0
    sweep_later(e2e_deps, e2e_settings.stuck_after_s + 1)  # the job looks stuck: put it back
    output = finish(start_worker(e2e_settings))

    assert intakes(e2e_deps.sessions)[0].status == DONE, output[-3000:]
    assert_one_report(e2e_deps)
    assert intakes(e2e_deps.sessions)[0].attempts == 2


def test_two_workers_on_one_queue_process_each_intake_once(
    e2e_settings, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi  # type: ignore[no-untyped-def]
) -> None:
    ids = [add_intake(e2e_deps, fake_api, duration_s=3) for _ in range(6)]
    workers = [start_worker(e2e_settings), start_worker(e2e_settings)]
    outputs = [finish(worker) for worker in workers]

    assert [i.status for i in intakes(e2e_deps.sessions)] == [DONE] * 6, outputs
    assert len(cases(e2e_deps.sessions)) == 6
    actions = audit_actions(e2e_deps.sessions)
    assert actions.count("recording.stored") == actions.count("intake.processed") == 6
    assert sorted(i.id for i in intakes(e2e_deps.sessions)) == ids
    assert fake_api.recording_sids() == []


def test_redis_down_during_the_call_the_report_waits_then_the_sweeper_enqueues(
    wired_app, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi, redis_server: RedisServer  # type: ignore[no-untyped-def]
) -> None:
    redis_server.stop()
    result = simulator(wired_app, fake_api).call(REPORT)
    assert result.ended_by == "hangup-verb"  # the line answered throughout
    assert [i.status for i in intakes(e2e_deps.sessions)] == [PENDING]

    redis_server.start()
    report = sweep(e2e_deps.sessions, e2e_deps.queue, settings=e2e_deps.settings)
    run_jobs(e2e_deps.queue)

    assert len(report.enqueued) == 1
    assert_one_report(e2e_deps)
    with e2e_deps.sessions() as session:
        assert session.scalars(select(Intake.attempts)).one() == 1


def test_sigterm_lets_the_current_job_finish_before_the_worker_exits(
    e2e_settings, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi  # type: ignore[no-untyped-def]
) -> None:
    intake_id = add_intake(e2e_deps, fake_api, duration_s=4)
    with e2e_deps.sessions() as session:
        sid = session.get_one(Intake, intake_id).recording_sid
    fake_api.fail_next(sid, 1, "timeout", stall_s=2)
    env = worker_env(e2e_settings, IVR_DOWNLOAD_TIMEOUT_S="30")
    worker = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "worker"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: fake_api.requests_matching("GET", f"/Recordings/{sid}"), timeout_s=60)
        worker.send_signal(signal.SIGTERM)  # a deploy: warm shutdown
        output, _ = worker.communicate(timeout=60)
    finally:
        kill(worker)

    assert worker.returncode == 0, output.decode(errors="replace")[-3000:]
    assert intakes(e2e_deps.sessions)[0].status == DONE
    assert_one_report_without_disguise(e2e_deps)


def assert_one_report_without_disguise(deps: WorkerDeps) -> None:
    assert len(cases(deps.sessions)) == 1 and count(deps.sessions, StoredRecording) == 1
