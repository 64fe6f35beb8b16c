"""Redis down does not flood the log: the worker waits with back-off, one line per change (issue 18)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.ops.test_process_logs import json_lines, line_env
from tests.support.services import RedisServer, free_port


def _wait_for(log_file: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log_file.read_text():
        assert time.monotonic() < deadline, f"no {text}:\n{log_file.read_text()}"
        time.sleep(0.2)


def test_worker_waits_for_redis_with_one_line_per_change(tmp_path: Path, sqlite_url: str) -> None:
    port = free_port()
    redis = RedisServer(tmp_path / "redis", appendonly=False)
    redis.port = port  # nobody listens there yet
    log_file = tmp_path / "worker.log"
    with log_file.open("wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "ivr.cli", "worker"], cwd=tmp_path, stdout=sink, stderr=sink,
            env=line_env(DATABASE_URL=sqlite_url, REDIS_URL=redis.url, IVR_TRANSCRIBER="none"),
        )
        try:
            _wait_for(log_file, '"redis.unreachable"', 60)
            time.sleep(8)  # down a while: the worker must neither exit nor repeat itself
            assert worker.poll() is None, log_file.read_text()
            redis.start()
            _wait_for(log_file, '"redis.reachable"', 60)
            _wait_for(log_file, "*** Listening on", 30)
            redis.stop()  # gone mid-run
            time.sleep(10)
            assert worker.poll() is None, log_file.read_text()
            redis.start()
            time.sleep(6)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            finally:
                redis.stop()
    records = json_lines(log_file.read_text())
    changes = [r["event"] for r in records if str(r["event"]).startswith("redis.")]
    assert changes == ["redis.unreachable", "redis.reachable", "redis.unreachable", "redis.reachable"], changes
    assert not [r for r in records if "could not connect" in str(r["event"]) or "exception" in r], \
        log_file.read_text()


def test_sweeper_says_once_that_redis_is_down_and_once_that_it_is_back(tmp_path: Path, sqlite_url: str) -> None:
    redis = RedisServer(tmp_path / "redis", appendonly=False)
    log_file = tmp_path / "sweeper.log"
    with log_file.open("wb") as sink:
        sweeper = subprocess.Popen(
            [sys.executable, "-m", "ivr.cli", "sweep", "--forever"], cwd=tmp_path, stdout=sink, stderr=sink,
            env=line_env(DATABASE_URL=sqlite_url, REDIS_URL=redis.url, IVR_SWEEP_INTERVAL_S="0.3"),
        )
        try:
            _wait_for(log_file, '"sweep.failed"', 60)
            time.sleep(4)  # a dozen more rounds while Redis is down
            redis.start()
            _wait_for(log_file, '"sweep.recovered"', 60)
        finally:
            sweeper.send_signal(signal.SIGTERM)
            try:
                sweeper.wait(30)
            finally:
                redis.stop()
    events = [r["event"] for r in json_lines(log_file.read_text())]
    assert events.count("sweep.failed") == 1 and events.count("sweep.recovered") == 1, events
