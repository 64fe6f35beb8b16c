"""Every process logs JSON lines with the same fields, scrubbed alike (issue 18, issue 10.5)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, DATA_KEY, ROOT
from tests.support.services import free_port

FIELDS = {"timestamp", "level", "logger", "event"}
NUMBER = "+77012345678"


def line_env(**extra: str) -> dict[str, str]:
    """The environment of a line's process, with nothing of the test runner's own settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("IVR_", "TWILIO_", "PROMETHEUS_")) and k not in ("DATABASE_URL", "REDIS_URL", "PORT")}
    env.update(IVR_ENV_FILE="", IVR_FLOW_PATH=str(ROOT / "config" / "flow.yaml"),
               IVR_PROMPTS_DIR=str(ROOT / "config" / "prompts"), PYTHONPATH=str(ROOT), **extra)
    return env


def json_lines(text: str) -> list[dict[str, object]]:
    """Every line parsed; fails on the first line that is not a JSON object with the common fields."""
    parsed = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}\n--- whole log:\n{text}") from None
        assert set(record) >= FIELDS, f"missing fields in {line!r}"
        parsed.append(record)
    return parsed


def test_gunicorn_logs_json_lines_with_the_apps_fields(tmp_path: Path, sqlite_url: str, redis_url: str) -> None:
    port = free_port()
    env = line_env(DATABASE_URL=sqlite_url, REDIS_URL=redis_url, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                   TWILIO_AUTH_TOKEN=AUTH_TOKEN, IVR_DATA_KEY=DATA_KEY, IVR_SECRET_KEY="s" * 40,
                   IVR_RECORDINGS_DIR=str(tmp_path / "recordings"))
    log_file = tmp_path / "web.log"
    with log_file.open("wb") as sink:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:ivr.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "ivr.app:create_app()"],
            stdout=sink, stderr=sink, env=env, cwd=tmp_path,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    requests.get(f"{base}/healthz", timeout=10)
                    break
                except requests.RequestException:  # not listening yet, or its workers still booting
                    assert time.monotonic() < deadline and web.poll() is None, log_file.read_text()
                    time.sleep(0.2)
            assert requests.post(f"{base}/voice/incoming?From=%2B77012345678",
                                 data={"From": NUMBER, "CallSid": "CA" + "1" * 32}).status_code == 403
            assert requests.get(f"{base}/no-such-page?Caller={NUMBER}").status_code == 404
        finally:
            web.send_signal(signal.SIGTERM)
            web.wait(30)
    text = log_file.read_text()
    assert NUMBER[1:] not in text
    records = json_lines(text)
    answered = [r for r in records if r["event"] == "request.answered"]
    assert {(r["method"], r["path"], r["status"]) for r in answered} >= {
        ("GET", "/healthz", 200), ("POST", "/voice/incoming", 403), ("GET", "/no-such-page", 404)}
    assert any(r["logger"] == "gunicorn.error" for r in records)  # gunicorn's own lines, same shape


def test_on_a_terminal_the_same_fields_read_as_text(tmp_path: Path) -> None:
    import pty

    script = (
        "import logging\n"
        "from ivr.logging import configure_logging, get_logger\n"
        "from ivr.settings import load_settings\n"
        "configure_logging(load_settings())\n"
        f"get_logger('ivr.test').info('call.noted', intake_id=7, caller='{NUMBER}')\n"
        f"logging.getLogger('gunicorn.error').warning('worker timeout %s', '{NUMBER}')\n"
    )
    primary, secondary = pty.openpty()
    done = subprocess.run([sys.executable, "-c", script], stderr=secondary, stdout=secondary, cwd=tmp_path,
                          env=line_env(), timeout=60)
    os.close(secondary)
    out = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(primary)
    text = out.decode()
    assert done.returncode == 0, text
    assert not text.lstrip().startswith("{")  # text, not JSON
    noted = next(line for line in text.splitlines() if "call.noted" in line)
    # Ids read as the day's pseudonyms (ivr/log_pseudonyms.py), as in JSON.
    assert "[info" in noted and "ivr.test" in noted and re.search(r"intake_id=~[0-9a-f]{12}\b", noted)
    assert NUMBER[1:] not in text and "gunicorn.error" in text
