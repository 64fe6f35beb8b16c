"""A report interrupted by any kill is being processed again within a minute: real `ivr worker` and
`ivr sweep --forever` processes on a test Redis, SIGKILLed as a whole (main process, scheduler, work horse)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from ivr.models import DONE, Intake
from ivr.settings import Settings
from tests.conftest import ROOT
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.workers.test_e2e_support import kill, wait_for, worker_env
from tests.workers.test_jobs_support import add_intake
from workers.deps import WorkerDeps

pytestmark = pytest.mark.slow
TARGET_S = 60.0


def ivr(settings: Settings, *args: str, **extra: str) -> subprocess.Popen[bytes]:
    """An `ivr` command as the Procfile runs it, in its own process group (so it can be killed whole)."""
    return subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", *args], cwd=ROOT, env=worker_env(settings, **extra),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def intake_of(deps: WorkerDeps, intake_id: int) -> Intake:
    with deps.sessions() as session:
        return session.get_one(Intake, intake_id)


def stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        kill(process)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("moment", ["mid_job", "retry_scheduled"])
def test_a_report_interrupted_by_a_hard_kill_is_processed_again_within_a_minute(
    e2e_settings: Settings, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi, moment: str
) -> None:
    intake_id = add_intake(e2e_deps, fake_api, duration_s=4)
    sid = intake_of(e2e_deps, intake_id).recording_sid
    if moment == "mid_job":
        fake_api.fail_next(sid, 1, "timeout", stall_s=25)  # the download hangs: the worker is mid-job
    else:
        fake_api.fail_next(sid, 200, 500)  # Twilio fails the first attempt: RQ schedules its retry
    sweeper = ivr(e2e_settings, "sweep", "--forever")
    first = ivr(e2e_settings, "worker", IVR_DOWNLOAD_TIMEOUT_S="30", IVR_DOWNLOAD_BUDGET_S="2")
    second = None
    try:
        if moment == "mid_job":
            wait_for(lambda: fake_api.requests_matching("GET", f"/Recordings/{sid}"), timeout_s=60)
        else:
            wait_for(lambda: intake_of(e2e_deps, intake_id).last_error, timeout_s=60)
            with fake_api._lock:  # Twilio's outage is over
                fake_api._failures.pop(sid, None)
        time.sleep(1)
        kill(first)  # SIGKILL to the whole group: main process, scheduler and work horse
        killed_at = time.monotonic()
        second = ivr(e2e_settings, "worker", IVR_DOWNLOAD_TIMEOUT_S="30")

        wait_for(lambda: intake_of(e2e_deps, intake_id).attempts >= 2, timeout_s=TARGET_S + 30, interval_s=0.2)
        recovered_s = time.monotonic() - killed_at
        wait_for(lambda: intake_of(e2e_deps, intake_id).status == DONE, timeout_s=60, interval_s=0.2)
    finally:
        for process in (first, second, sweeper):
            if process is not None:
                stop(process)
    print(f"recovered {moment} in {recovered_s:.1f} s")
    assert recovered_s < TARGET_S
