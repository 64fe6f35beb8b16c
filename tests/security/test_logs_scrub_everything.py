"""Issue 10.5: logs scrub everything, proven on a real log file written by a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

NUMBER = "+77012345678"
REFERENCE = "48213576"  # a valid reference (its Damm check holds)
PIN = "4821"
CALLER_NAME = "Aigerim Nurlanovna"

# Everything a careless line of code, a library or an exception could put in front of the log.
SCRIPT = f"""
import logging
from ivr.logging import configure_logging, get_logger
from ivr.settings import Settings

configure_logging(Settings(log_json=True))
log = get_logger("ivr.test")
log.info("call.noted", detail={{"from": "{NUMBER}", "steps": [{{"CallerName": "{CALLER_NAME}"}}, "{NUMBER[1:]}"]}})
log.info("followup.checked", reference="{REFERENCE}", pin="{PIN}", note="ref {REFERENCE} pin {PIN}")
try:
    raise ValueError("caller {NUMBER} keyed reference {REFERENCE} and PIN {PIN}")
except ValueError:
    log.exception("job.failed", intake_id=7)
try:
    form = {{"From": "{NUMBER}", "CallerName": "{CALLER_NAME}", "Digits": "{PIN}"}}
    raise KeyError(form)
except KeyError:
    logging.getLogger("rq.worker").exception("work horse failed on %s", "/voice/step?From=%2B{NUMBER[1:]}&Digits={PIN}")
logging.getLogger("gunicorn.error").error("bad request %r", {{"Caller": "{NUMBER}"}})
"""


def test_logs_scrub_everything(tmp_path: Path) -> None:
    log_file = tmp_path / "line.log"
    env = {**os.environ, "IVR_ENV_FILE": "", "PYTHONPATH": str(ROOT)}
    with log_file.open("wb") as sink:
        subprocess.run([sys.executable, "-c", SCRIPT], stderr=sink, stdout=sink, env=env, cwd=tmp_path,
                       check=True, timeout=60)
    text = log_file.read_text()
    for secret in (NUMBER, NUMBER[1:], REFERENCE, PIN, CALLER_NAME, "Aigerim"):
        assert secret not in text, f"{secret!r} reached the log:\n{text}"
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 5
    failed = next(line for line in lines if line["event"] == "job.failed")
    # The traceback is kept, rendered and scrubbed, not lost as `<traceback object>`.
    assert "Traceback (most recent call last)" in failed["exception"]
    assert "ValueError: caller [redacted]" in failed["exception"]
    assert "<traceback object" not in text
    horse = next(line for line in lines if line["logger"] == "rq.worker")
    assert "KeyError" in horse["exception"] and "'From': '[redacted]'" in horse["exception"]
    assert lines[0]["detail"]["from"] == "[redacted]"
    assert lines[0]["detail"]["steps"][0]["CallerName"] == "[redacted]"
