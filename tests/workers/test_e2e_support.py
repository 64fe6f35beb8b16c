"""Parts of the end-to-end tests: the app's Twilio side wired to the fake API, real worker processes.

Named test_e2e_support so it sits with the e2e tests; it holds helpers, no tests. The fixtures
(`e2e_settings`, `e2e_deps`, `wired_app`) are in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from ivr.models import Case, Intake
from ivr.settings import Settings
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, ROOT
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.twilio_sim import FlaskTransport, TwilioSimulator

RQ = str(Path(sys.executable).with_name("rq"))


def simulator(app: Flask, fake: FakeTwilioApi, *, recording_callbacks: str = "after_action") -> TwilioSimulator:
    """Twilio's voice side against the app, publishing each recording at the fake REST API."""
    return TwilioSimulator(
        FlaskTransport(app.test_client()),
        auth_token=AUTH_TOKEN,
        public_base_url=PUBLIC_BASE_URL,
        account_sid=ACCOUNT_SID,
        api_base_url=fake.base_url,
        fake_api=fake,
        recording_callbacks=recording_callbacks,
    )


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a deployed worker would have, for these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value(),
            "IVR_TWILIO_API_BASE": settings.twilio_api_base,
            "IVR_SECRET_KEY": settings.secret_key.get_secret_value(),
            "IVR_DATA_KEY": settings.data_key.get_secret_value(),
            "IVR_RECORDINGS_DIR": str(settings.recordings_dir),
            "IVR_MODEL_CACHE_DIR": str(settings.model_cache_dir),
            "IVR_TRANSCRIBER": settings.transcriber,
            "IVR_DOWNLOAD_BACKOFF_S": str(settings.download_backoff_s),
            "IVR_DOWNLOAD_BUDGET_S": str(settings.download_budget_s),
            "IVR_DOWNLOAD_TIMEOUT_S": str(settings.download_timeout_s),
            "IVR_TRANSCRIBE_RETRY_INTERVALS_S": "[1, 1]",
            "IVR_TRANSCRIBE_TIMEOUT_S": str(settings.transcribe_timeout_s),
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


def start_worker(settings: Settings, *, burst: bool = True, **extra: str) -> subprocess.Popen[bytes]:
    """`rq worker --with-scheduler` on the intake queue, then the transcribe queue, as its own process group."""
    args = [RQ, "worker", "--with-scheduler", "--url", settings.redis_url, settings.queue_name,
            settings.transcribe_queue_name]
    if burst:
        args.insert(2, "--burst")
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=worker_env(settings, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def finish(process: subprocess.Popen[bytes], timeout_s: float = 120) -> str:
    """Wait for a burst worker; its output, for assertions and failure messages."""
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill(process)
        output, _ = process.communicate()
        raise AssertionError("worker did not finish:\n" + output.decode(errors="replace")[-4000:]) from None
    return output.decode(errors="replace")


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its work horse."""
    with contextlib.suppress(ProcessLookupError):  # it may have finished already
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def wait_for(check: Callable[[], Any], timeout_s: float = 30.0, interval_s: float = 0.05) -> Any:
    """Poll until `check()` is truthy; its value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError("condition not met in time")


def cases(sessions: Any) -> list[Case]:
    """Every case."""
    with sessions() as session:
        return list(session.scalars(select(Case).order_by(Case.id)))


def intakes(sessions: Any) -> list[Intake]:
    """Every intake."""
    with sessions() as session:
        return list(session.scalars(select(Intake).order_by(Intake.id)))
