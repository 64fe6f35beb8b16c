"""A web process SIGKILLed while it answers never cuts a caller's TwiML (issue 17).

Two gunicorns (the line's config, the real app) behind the shipped HAProxy config. One worker is
made to stall right after its reply's first send (tests/support/stalling_gunicorn_conf.py), as a
busy machine's scheduler may leave it, and its whole web process is SIGKILLed there. With
gunicorn's stock sync worker that first send is the head alone: HAProxy has passed on a 200 it
cannot finish or re-send, and the client reads IncompleteRead. The line's worker
(ivr.gunicorn_conf.WholeReplyWorker) sends the head with the body, so the caller has it all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from bench.rehearsal import haproxy_config
from ivr.twilio_standin.player import HttpTransport, TwilioSimulator
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, DATA_KEY, PUBLIC_BASE_URL, ROOT
from tests.support.services import free_port
from tests.support.stalling_gunicorn_conf import STALL_S

pytestmark = pytest.mark.slow
HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


def wait_answering(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until url answers at all (its workers booted)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(url, timeout=10)
            return
        except requests.RequestException:
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.2)


@pytest.fixture
def line(tmp_path: Path, sqlite_url: str, redis_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """HAProxy's address, in front of two stalling gunicorns; the worker class is the test's param."""
    if HAPROXY is None:
        pytest.fail("haproxy is not installed (tests/run.sh installs it)")
    worker_args: list[str] = request.param
    leaky = ("IVR_", "TWILIO_", "PROMETHEUS_", "GUNICORN_", "DATABASE_URL", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(leaky)}
    env.update(
        PYTHONPATH=str(ROOT), IVR_ENV_FILE="", DATABASE_URL=sqlite_url, REDIS_URL=redis_url,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN, IVR_PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        IVR_DATA_KEY=DATA_KEY, IVR_SECRET_KEY="s" * 40, IVR_RECORDINGS_DIR=str(tmp_path / "recordings"),
        IVR_FLOW_PATH=str(ROOT / "config" / "flow.yaml"), IVR_PROMPTS_DIR=str(ROOT / "config" / "prompts"),
        STALL_MARK=str(tmp_path / "stalled"),
    )
    with ExitStack() as stack:
        ports = []
        for number in (1, 2):
            port, log = free_port(), tmp_path / f"web{number}.log"
            web = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "python:tests.support.stalling_gunicorn_conf",
                 *worker_args, "--bind", f"127.0.0.1:{port}", "--workers", "1", "ivr.app:create_app()"],
                stdout=stack.enter_context(log.open("wb")), stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                start_new_session=True,
            )
            stack.callback(stop, web)
            wait_answering(f"http://127.0.0.1:{port}/healthz", web, log)
            ports.append(port)
        port, config = free_port(), tmp_path / "haproxy.cfg"
        config.write_text(haproxy_config(port, ports))
        haproxy = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        stack.callback(stop, haproxy)
        wait_answering(f"http://127.0.0.1:{port}/healthz", haproxy, config)
        yield f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL its group (a gunicorn and its workers), if still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def answer_while_killing_the_stalled_process(entry_url: str, mark: Path) -> tuple[int, str]:
    """Twilio's first webhook of a call through HAProxy; the web process that stalls is SIGKILLed."""
    sim = TwilioSimulator(HttpTransport(entry_url), auth_token=AUTH_TOKEN, public_base_url=PUBLIC_BASE_URL,
                          account_sid=ACCOUNT_SID)
    form = sim.voice_form("CA" + "7" * 32, "+77012345678", "+77172141424", None, "ringing")
    answer: list[tuple[int, str] | BaseException] = []

    def post() -> None:
        try:
            answer.append(sim.post("/voice/incoming", form))
        except BaseException as exc:  # handed to the test's thread
            answer.append(exc)

    caller = threading.Thread(target=post)
    caller.start()
    deadline = time.monotonic() + STALL_S / 2
    while not (mark.exists() and mark.read_text().endswith("\n")):
        assert time.monotonic() < deadline, "no reply stalled"
        time.sleep(0.01)
    os.killpg(os.getpgid(int(mark.read_text().split()[0])), signal.SIGKILL)
    caller.join(30)
    if isinstance(answer[0], BaseException):
        raise answer[0]
    return answer[0]


@pytest.mark.parametrize("line", [[]], indirect=True, ids=["line-worker"])
def test_a_web_process_killed_mid_reply_leaves_the_callers_twiml_whole(line: str, tmp_path: Path) -> None:
    status, text = answer_while_killing_the_stalled_process(line, tmp_path / "stalled")
    assert (tmp_path / "stalled").read_text().split()[1] == "True"  # the first send held the whole reply
    assert status == 200
    assert ET.fromstring(text).tag == "Response"


@pytest.mark.parametrize("line", [["--worker-class", "sync"]], indirect=True, ids=["stock-sync-worker"])
def test_gunicorns_stock_worker_killed_mid_reply_cuts_it(line: str, tmp_path: Path) -> None:
    # The fault above reaches the gap the line's worker closes: without it, the reply is cut.
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        answer_while_killing_the_stalled_process(line, tmp_path / "stalled")
    assert (tmp_path / "stalled").read_text().split()[1] == "False"
