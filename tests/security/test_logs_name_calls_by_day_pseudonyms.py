"""Issue 10, item 3 (what logs keep): a log line's time cannot be joined to an anonymous report.

Log lines keep their time to the millisecond. They name calls, recordings, intakes and cases only
by pseudonyms under a key of the day that Redis forgets after two days; `ivr logs pseudonym`
matches them while the key lives. Real processes, a real log file, the tests' own Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import redis

from tests.conftest import ROOT

CALL_SID = "CA" + "0123456789abcdef" * 2
RECORDING_SID = "RE" + "fedcba9876543210" * 2

SCRIPT = f"""
from ivr.logging import configure_logging, get_logger
from ivr.settings import Settings

configure_logging(Settings(log_json=True))
log = get_logger("ivr.test")
log.info("intake.recorded", call_sid="{CALL_SID}", recording_sid="{RECORDING_SID}", intake_id=41, case_id=7)
try:
    raise RuntimeError("no row for {CALL_SID} / {RECORDING_SID}")
except RuntimeError:
    log.exception("job.failed", detail={{"call_id": 12}})
"""


def run(args: list[str], redis_url: str, tmp_path: Path) -> str:
    env = {**os.environ, "IVR_ENV_FILE": "", "PYTHONPATH": str(ROOT), "REDIS_URL": redis_url}
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, check=True, timeout=60)
    return done.stdout + done.stderr


def log_lines(redis_url: str, tmp_path: Path) -> list[dict]:  # type: ignore[type-arg]
    text = run([sys.executable, "-c", SCRIPT], redis_url, tmp_path)
    for raw in (CALL_SID, RECORDING_SID, CALL_SID[2:], RECORDING_SID[2:]):
        assert raw not in text, text
    return [json.loads(line) for line in text.splitlines()]


def pseudonym_cli(redis_url: str, tmp_path: Path, *args: str) -> str:
    out = run([sys.executable, "-m", "ivr.cli", "logs", "pseudonym", *args], redis_url, tmp_path)
    today = datetime.now(UTC).date().isoformat()
    return next(line.split()[1] for line in out.splitlines() if line.startswith(today))


def test_logs_carry_pseudonyms_that_match_only_while_the_day_key_lives(redis_url: str, tmp_path: Path) -> None:
    first, failed = log_lines(redis_url, tmp_path)
    names = {key: first[key] for key in ("call_sid", "recording_sid", "intake_id", "case_id")}
    assert all(isinstance(v, str) and v.startswith("~") and len(v) == 13 for v in names.values()), names
    assert len(set(names.values())) == 4
    # SIDs inside messages and tracebacks read the same; nested ids are hidden too.
    assert names["call_sid"] in failed["exception"] and names["recording_sid"] in failed["exception"]
    assert failed["detail"]["call_id"].startswith("~")
    # Another process on the same day and Redis (a worker, say) names the call alike.
    again, _ = log_lines(redis_url, tmp_path)
    assert again["call_sid"] == names["call_sid"]
    # Someone tracing a fault finds the lines of a call or an intake.
    assert pseudonym_cli(redis_url, tmp_path, "--call-sid", CALL_SID) == names["call_sid"]
    assert pseudonym_cli(redis_url, tmp_path, "--intake", "41") == names["intake_id"]

    # The key expires within two days; then the lines cannot be matched to the rows any more.
    client = redis.Redis.from_url(redis_url)
    [key] = client.keys("ivr:log-key:*")
    assert 0 < client.ttl(key) <= 2 * 24 * 3600
    client.delete(key)  # what expiry does
    assert pseudonym_cli(redis_url, tmp_path, "--call-sid", CALL_SID) == "its"  # "its key is gone: ..."
    later, _ = log_lines(redis_url, tmp_path)
    assert later["call_sid"] != names["call_sid"]


def test_without_redis_a_process_still_never_logs_the_raw_values(tmp_path: Path) -> None:
    # Nothing listens on port 9: the process draws a key of its own.
    lines = log_lines("redis://127.0.0.1:9/0", tmp_path)
    assert lines[0]["call_sid"].startswith("~")
