"""Issue 10.13: the files that hold secrets and reports are private (0600, folders 0700) from the start.

Run the way `ivr up` runs them, under the usual umask 022: var/local.env, the SQLite database
(transcripts, PIN hashes) and the embedded Redis's files (queued jobs).
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ivr.private_files import exposed_paths


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most shells have: files 0644 and folders 0755 unless the code asks otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("usual_umask")
def test_local_env_and_its_folder_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr.cli import LOCAL_ENV, ensure_local_env

    monkeypatch.chdir(tmp_path)
    ensure_local_env()
    assert _mode(LOCAL_ENV) == 0o600 and _mode(LOCAL_ENV.parent) == 0o700
    # Rewritten (a value missing) it stays private, and no temp file is left beside it.
    LOCAL_ENV.write_text("IVR_SECRET_KEY=x\n")
    LOCAL_ENV.chmod(0o600)
    ensure_local_env()
    assert _mode(LOCAL_ENV) == 0o600 and sorted(p.name for p in LOCAL_ENV.parent.iterdir()) == ["local.env"]


@pytest.mark.usefixtures("usual_umask")
def test_the_sqlite_database_is_created_private(tmp_path: Path) -> None:
    from ivr.migrations import upgrade

    database = tmp_path / "var" / "ivr.db"
    upgrade(f"sqlite:///{database}")  # what `ivr up` calls first
    assert _mode(database) == 0o600 and _mode(database.parent) == 0o700
    for sidecar in database.parent.glob("ivr.db-*"):  # WAL and shared memory, if SQLite left them
        assert _mode(sidecar) == 0o600, sidecar


@pytest.mark.usefixtures("usual_umask")
def test_the_embedded_redis_writes_private_files(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_")) and k != "REDIS_URL"}
    process = subprocess.Popen([sys.executable, "-m", "ivr.cli", "redis"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        local_env = tmp_path / "var" / "local.env"
        for _ in range(100):
            if local_env.exists() and "REDIS_URL=" in local_env.read_text():
                break
            time.sleep(0.1)
        lines = local_env.read_text().splitlines()
        url = next(line.split("=", 1)[1] for line in lines if line.startswith("REDIS_URL="))
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        client.rpush("rq:queue:intake", "a job")
        client.bgrewriteaof()
        time.sleep(1.5)  # appendfsync everysec, and the rewrite
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    data = tmp_path / "var" / "redis"
    files = [p for p in data.rglob("*")]
    assert any(p.is_file() and p.stat().st_size for p in files), files
    assert _mode(data) == 0o700 and _mode(data.parent) == 0o700
    assert {p.name: oct(_mode(p)) for p in files if _mode(p) & 0o077} == {}


def test_ivr_up_names_what_others_can_read(tmp_path: Path) -> None:
    data = tmp_path / "var"
    (data / "recordings").mkdir(parents=True, mode=0o700)
    data.chmod(0o755)
    (data / "ivr.db").write_text("x")
    (data / "ivr.db").chmod(0o644)
    (data / "local.env").write_text("x")
    (data / "local.env").chmod(0o600)
    assert exposed_paths(data) == [data, data / "ivr.db"]
    data.chmod(0o700)
    (data / "ivr.db").chmod(0o600)
    assert exposed_paths(data) == []
