"""`ivr up --demo` and `ivr simulate --into`: a newcomer's call reaches the console without Twilio (issue 18).

Real processes, as the README's quick start runs them: the line on a free port with a temp var folder and
SQLite, a simulated call signed with the line's own token, the worker fetching the recording from the demo's
Twilio stand-in, the case in the console, a follow-up with the printed reference and PIN, then Ctrl-C.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import ROOT
from tests.ops.test_local_line import STOP_BOUND_S, descendants, is_alive
from tests.ops.test_process_logs import line_env
from tests.support.services import free_port
from tests.support.twilio_sim import make_wav

PASSWORD = "a demo password, long enough 42"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _env() -> dict[str, str]:
    env = line_env(IVR_TRANSCRIBER="none", IVR_SPEECH_CONFIG_PATH=str(ROOT / "config" / "speech.yaml"))
    env.pop("IVR_ENV_FILE")  # read var/local.env, as a newcomer's shell does
    return env


def _ivr(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ivr.cli", *args], cwd=tmp_path, env=_env(), input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)


def _case(tmp_path: Path, reference: str) -> tuple[int, str] | None:
    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'ivr.db'}")
    try:
        with engine.connect() as conn:
            row = conn.execute(text("select cases.id, cases.status from cases join calls on calls.id = cases.call_id "
                                    "where calls.reference = :r"), {"r": reference}).first()
    finally:
        engine.dispose()
    return (row[0], row[1]) if row else None


def test_a_demo_call_reaches_the_console_and_the_follow_up_works(tmp_path: Path) -> None:
    port = free_port()
    line = f"http://127.0.0.1:{port}"
    log_file = tmp_path / "up.log"
    sink = log_file.open("ab")
    up = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "up", "--demo", "--port", str(port), "--web-workers", "1",
         "--stop-timeout", "20"],
        cwd=tmp_path, env=_env(), stdout=sink, stderr=sink, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "var" / "demo-twilio-api").exists() or "Listening on" not in log_file.read_text():
            assert up.poll() is None, log_file.read_text()
            assert time.monotonic() < deadline, log_file.read_text()
            time.sleep(0.3)
        while True:
            try:
                if requests.get(f"{line}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, log_file.read_text()
            time.sleep(0.3)
        report = tmp_path / "report.wav"
        report.write_bytes(make_wav(4))

        call = _ivr(tmp_path, "simulate", "--into", line, "--keys", "2,1,05,,3", "--record", str(report))

        assert call.returncode == 0, call.stdout + call.stderr
        reference = re.search(r"^Case reference: (\d+)$", call.stdout, re.MULTILINE)
        pin = re.search(r"^PIN: (\d+)$", call.stdout, re.MULTILINE)
        assert reference and pin, call.stdout
        while (case := _case(tmp_path, reference.group(1))) is None:  # the worker fetched it from the stand-in
            assert time.monotonic() < deadline + 60, log_file.read_text()
            time.sleep(0.5)
        assert case[1] == "new"

        added = _ivr(tmp_path, "user", "add", "dana", "--role", "supervisor", "--password-stdin", stdin=PASSWORD)
        assert added.returncode == 0, added.stderr
        browser = requests.Session()
        browser.trust_env = False
        token = CSRF.search(browser.get(f"{line}/operator/login", timeout=10).text)
        assert token
        browser.post(f"{line}/operator/login", timeout=10,
                     data={"username": "dana", "password": PASSWORD, "csrf_token": token.group(1)})
        assert reference.group(1) in browser.get(f"{line}/operator/", timeout=10).text

        follow_up = re.search(r"ivr simulate --into \S+ --keys (\S+)", call.stdout)
        assert follow_up, call.stdout
        again = _ivr(tmp_path, "simulate", "--into", line, "--keys", follow_up.group(1))
        assert again.returncode == 0, again.stdout + again.stderr
        heard = again.stdout
        assert "Состояние вашего обращения" in heard and "не подходят" not in heard, heard

        children = descendants(up.pid)
        os.killpg(up.pid, signal.SIGINT)
        assert up.wait(STOP_BOUND_S) == 0
        asked_at = time.monotonic()
        while any(is_alive(pid) for pid in children) and time.monotonic() - asked_at < 10:
            time.sleep(0.1)
        assert not [pid for pid in children if is_alive(pid)]
        assert not (tmp_path / "var" / "demo-twilio-api").exists()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        for pid in descendants(up.pid):
            os.kill(pid, signal.SIGKILL)
        sink.close()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_banner_names_the_console_the_first_account_and_placeholder_credentials(
    make_settings, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    from ivr.local_line import _announce
    from ivr.settings import PLACEHOLDER_ACCOUNT_SID

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    settings = make_settings(twilio_account_sid=PLACEHOLDER_ACCOUNT_SID)
    _announce(settings, "http://127.0.0.1:5000", {"REDIS_URL": "redis://127.0.0.1:6380/0"}, "http://127.0.0.1:5001")

    banner = terminal.getvalue()
    assert "Operators' console:      http://127.0.0.1:5000/operator/" in banner
    assert "ivr user add NAME --role supervisor" in banner
    assert "credentials are placeholders" in banner
    assert "ivr simulate --into http://127.0.0.1:5000" in banner
