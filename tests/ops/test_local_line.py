"""`ivr up` as a deployer runs it: real processes, a temp var folder, a free port (issue 18)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.ops.test_process_logs import json_lines, line_env
from tests.support.services import POSTGRES_URL, free_port, postgres_available, postgres_schema

STOP_BOUND_S = 60  # Ctrl-C to the last process gone, on a loaded two-core machine
PASSWORD = "banner-must-not-show-this-7f3a"


def with_password(url: str, database: str | None = None) -> str:
    """The test PostgreSQL URL with a password the server ignores (trust) or already has."""
    parsed = make_url(url)
    if parsed.password is None:
        parsed = parsed.set(password=PASSWORD)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def run_up(tmp_path: Path, port: int, log_file: Path, **env: str) -> subprocess.Popen[bytes]:
    """`ivr up` in its own session, as a terminal would run it in its own foreground group."""
    sink = log_file.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "up", "--port", str(port), "--web-workers", "1", "--stop-timeout", "20"],
        cwd=tmp_path, env=line_env(IVR_TRANSCRIBER="none", **env), stdout=sink, stderr=sink,
        start_new_session=True,
    )


def descendants(root: int) -> set[int]:
    """Every process whose ancestry leads to `root` (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def is_alive(pid: int) -> bool:
    """True for a process that exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not postgres_available(), reason="needs the test PostgreSQL")
def test_ctrl_c_stops_in_order_and_leaves_no_process(tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "up.log"
    with postgres_schema() as url:
        up = run_up(tmp_path, port, log_file, DATABASE_URL=with_password(url))
        try:
            deadline = time.monotonic() + 120
            while True:
                assert up.poll() is None, log_file.read_text()
                try:
                    if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()["checks"]["redis"] == "ok":
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, log_file.read_text()
                time.sleep(0.5)
            while "Listening on" not in log_file.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)  # the worker is up too
            children = descendants(up.pid)
            assert len(children) >= 5  # redis, gunicorn master and worker, rq worker, sweeper
            os.killpg(up.pid, signal.SIGINT)  # Ctrl-C: the terminal signals its foreground group
            asked_at = time.monotonic()
            assert up.wait(STOP_BOUND_S) == 0
            while any(is_alive(pid) for pid in children) and time.monotonic() - asked_at < STOP_BOUND_S:
                time.sleep(0.1)
            left = [pid for pid in children if is_alive(pid)]
            assert not left, f"left behind: {left}"
        finally:
            if up.poll() is None:
                os.killpg(up.pid, signal.SIGKILL)
            for pid in descendants(up.pid):
                os.kill(pid, signal.SIGKILL)
    text = log_file.read_text()
    records = json_lines(text)
    stopping = [r["process"] for r in records if r["event"] == "line.stopping"]
    assert stopping == ["web", "worker", "sweeper", "redis"], stopping
    assert all(r["waiting_for"] for r in records if r["event"] == "line.stopping")
    assert records[-1]["event"] == "line.stopped"
    assert any(r["logger"] == "redis" for r in records)  # Redis's own lines, as JSON
    assert not [r for r in records if r["level"] in ("error", "critical")], text
    starting = next(r for r in records if r["event"] == "line.starting")
    password = make_url(with_password(url)).password
    assert "***" in str(starting["database"]) and str(password) not in text


def test_a_busy_port_is_one_line_and_no_restart_loop(tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "up.log"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        up = run_up(tmp_path, port, log_file)
        try:
            assert up.wait(60) == 1
        finally:
            if up.poll() is None:
                os.killpg(up.pid, signal.SIGKILL)
    records = json_lines(log_file.read_text())
    assert [r["event"] for r in records if r["level"] == "error"] == ["web.port_busy"]
    assert not [r for r in records if r["event"] == "process.started"]


@pytest.mark.skipif(not postgres_available(), reason="needs the test PostgreSQL")
def test_a_missing_postgres_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    log_file = tmp_path / "up.log"
    up = run_up(tmp_path, free_port(), log_file,
                DATABASE_URL=with_password(POSTGRES_URL, database=f"ivr_missing_{os.getpid()}"))
    try:
        assert up.wait(60) == 1
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
    text = log_file.read_text()
    records = json_lines(text)
    errors = [r for r in records if r["level"] == "error"]
    assert [r["event"] for r in errors] == ["database.unreachable"]
    assert "does not exist" in str(errors[0]["reason"]) and "***" in str(errors[0]["database"])
    assert PASSWORD not in text and "Traceback" not in text
    assert len(records) <= 3


@pytest.mark.skipif(not postgres_available(), reason="needs the test PostgreSQL")
def test_db_upgrade_on_a_missing_database_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ivr.cli", "db", "upgrade"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env=line_env(DATABASE_URL=with_password(POSTGRES_URL, database=f"ivr_missing_{os.getpid()}")),
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "does not exist" in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
