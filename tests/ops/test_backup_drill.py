"""Backups that restore (issue 17.4): back up, destroy, restore, then hear every recording and open
every case in the real console, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from ivr.app import create_app
from ivr.backup import MANIFEST, BackupError, backup, restore
from ivr.models import Case, Intake, StoredRecording
from ivr.settings import Settings
from tests.operator.console import Console, post_form, sign_in

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("fast_password_hashes")


def _make_cases(app: Flask) -> Console:
    console = Console(app)
    console.add_user("dana", role="supervisor")
    console.add_case(is_anonymous=False, contact="+77011234567")
    console.add_case(is_anonymous=True)
    console.add_case(is_anonymous=True, followups=1, region="07", language="kk")
    return console


def _what_the_console_shows(app: Flask) -> dict[str, Any]:
    """Every case page and every recording (the original, as a supervisor who unlocked it, and the
    version operators hear by default), through the real console."""
    client = app.test_client()
    assert sign_in(client, "dana").status_code == 302
    svc = app.extensions["ivr"]
    with svc.sessions() as session:
        found = session.execute(
            select(StoredRecording, Case.id)
            .join(Intake, Intake.id == StoredRecording.intake_id)
            .join(Case, Case.call_id == Intake.call_id)
            .order_by(StoredRecording.intake_id)
        ).all()
        rows = [row for row, _ in found]
        cases = {row.intake_id: case_id for row, case_id in found}
    assert rows, "no recordings to check"
    shown: dict[str, Any] = {"pages": {}, "audio": {}}
    for row in rows:
        case_id = cases[row.intake_id]
        page = client.get(f"/operator/cases/{case_id}")
        assert page.status_code == 200, page.status_code
        body = page.get_data(as_text=True)
        assert "хочу сообщить о взятке" in body  # the transcript, encrypted at rest, reads again
        shown["pages"][case_id] = True
        heard = client.get(f"/operator/recordings/{row.intake_id}/audio")
        assert heard.status_code == 200 and heard.data[:4] == b"RIFF"
        if row.disguised_key:
            assert post_form(client, f"/operator/recordings/{row.intake_id}/original",
                             page=f"/operator/cases/{case_id}").status_code in (200, 302)
            original = client.get(f"/operator/recordings/{row.intake_id}/audio?v=original")
            assert original.status_code == 200
        else:
            original = heard
        # The recording decrypts to exactly what was stored: the row's checksum of the plain audio.
        assert hashlib.sha256(original.data).hexdigest() == row.sha256
        shown["audio"][row.intake_id] = (hashlib.sha256(heard.data).hexdigest(), row.sha256)
    return shown


def _destroy(settings: Settings) -> None:
    """Lose the database and the recordings, leaving an empty deployment of the same settings."""
    url = settings.database_url
    if url.startswith("sqlite"):
        database = Path(make_url(url).database or "")
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            path.unlink(missing_ok=True)
    else:
        engine = create_engine(url)
        with engine.begin() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    shutil.rmtree(settings.recordings_dir)


def test_backup_destroy_restore_and_every_case_and_recording_is_back(
    app: Flask, settings: Settings, tmp_path: Path
) -> None:
    """The drill: what the console showed before the loss, it shows after the restore."""
    _make_cases(app)
    before = _what_the_console_shows(app)
    assert len(before["audio"]) == 4 and len(before["pages"]) == 3

    manifest = backup(settings, tmp_path / "backup")
    assert manifest["recordings"]["count"] == 4 + 3  # four originals, the anonymous ones disguised too
    assert list(manifest["data_keys"]) == [settings.data_key_id]
    assert oct((tmp_path / "backup").stat().st_mode & 0o777) == "0o700"
    # The keys are not in the backup: no file holds the data key, in any encoding.
    key = settings.data_key.get_secret_value().encode()
    for path in (tmp_path / "backup").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert key not in data and settings.data_keys[settings.data_key_id] not in data, path

    app.extensions["ivr"].close()
    _destroy(settings)

    restore(settings, tmp_path / "backup")
    restored = create_app(settings)
    restored.config["TESTING"] = True
    try:
        assert _what_the_console_shows(restored) == before
    finally:
        restored.extensions["ivr"].close()


def test_restore_refuses_a_deployment_that_is_not_empty_unless_forced(
    app: Flask, settings: Settings, tmp_path: Path
) -> None:
    """Restoring over live data needs --force; with it, the backup's state wins."""
    console = _make_cases(app)
    backup(settings, tmp_path / "backup")
    console.add_case(is_anonymous=False)  # made after the backup
    with pytest.raises(BackupError, match="not empty"):
        restore(settings, tmp_path / "backup")
    app.extensions["ivr"].close()

    restore(settings, tmp_path / "backup", force=True)
    restored = create_app(settings)
    restored.config["TESTING"] = True
    try:
        shown = _what_the_console_shows(restored)
        assert len(shown["pages"]) == 3  # the case made after the backup is gone with the old state
    finally:
        restored.extensions["ivr"].close()


def test_a_changed_file_or_a_wrong_key_is_refused_before_anything_changes(
    app: Flask, settings: Settings, make_settings: Any, tmp_path: Path
) -> None:
    """Checksums are verified first; keys are checked by fingerprint; the deployment stays empty."""
    _make_cases(app)
    backup(settings, tmp_path / "backup")
    app.extensions["ivr"].close()
    _destroy(settings)

    other_key = make_settings(database_url=settings.database_url, recordings_dir=settings.recordings_dir,
                              data_key="A" * 43 + "=")
    with pytest.raises(BackupError, match="not the one this backup was made with"):
        restore(other_key, tmp_path / "backup")

    manifest = json.loads((tmp_path / "backup" / MANIFEST).read_text())
    victim = tmp_path / "backup" / manifest["files"][-1]["path"]
    victim.write_bytes(victim.read_bytes()[:-1] + bytes([victim.read_bytes()[-1] ^ 1]))
    with pytest.raises(BackupError, match="checksum differs"):
        restore(settings, tmp_path / "backup")
    assert not settings.recordings_dir.exists() or not any(settings.recordings_dir.iterdir())


def test_the_commands(sqlite_url: str, make_settings: Any, tmp_path: Path, redis_url: str) -> None:
    """`ivr backup` and `ivr restore` as a deployer runs them: one line each, exit codes."""
    settings = make_settings(database_url=sqlite_url)
    app = create_app(settings)
    _make_cases(app)
    app.extensions["ivr"].close()
    env = {
        **os.environ,
        "IVR_ENV_FILE": "",
        "DATABASE_URL": sqlite_url,
        "REDIS_URL": redis_url,
        "IVR_DATA_KEY": settings.data_key.get_secret_value(),
        "IVR_RECORDINGS_DIR": str(settings.recordings_dir),
    }

    def ivr(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ivr.cli", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    made = ivr("backup", str(tmp_path / "b"))
    assert made.returncode == 0, made.stderr
    assert "7 recordings" in made.stdout and "k1" in made.stdout
    again = ivr("backup", str(tmp_path / "b"))
    assert again.returncode == 1 and "not an empty folder" in again.stderr
    refused = ivr("restore", str(tmp_path / "b"))
    assert refused.returncode == 1 and "not empty" in refused.stderr and "Traceback" not in refused.stderr
    _destroy(settings)
    done = ivr("restore", str(tmp_path / "b"))
    assert done.returncode == 0, done.stderr
    assert "restored the sqlite database" in done.stdout


@pytest.fixture
def s3_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A bucket on moto's S3 server (a real HTTP endpoint on 127.0.0.1): endpoint and name."""
    import boto3

    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="recordings")
    yield endpoint, "recordings"
    server.stop()


def test_the_drill_with_recordings_in_s3(
    sqlite_url: str, make_settings: Any, s3_bucket: tuple[str, str], tmp_path: Path
) -> None:
    """The same drill with the recordings in an S3 bucket: listed, copied out, put back as stored."""
    import boto3

    endpoint, bucket = s3_bucket
    settings = make_settings(database_url=sqlite_url, recording_store="s3", s3_endpoint_url=endpoint,
                             s3_bucket=bucket)
    app = create_app(settings)
    app.config["TESTING"] = True
    _make_cases(app)
    before = _what_the_console_shows(app)
    app.extensions["ivr"].close()
    manifest = backup(settings, tmp_path / "backup")
    assert manifest["recordings"] == {"store": "s3", "count": 7}

    client = boto3.client("s3", endpoint_url=endpoint)
    for item in client.list_objects_v2(Bucket=bucket)["Contents"]:
        client.delete_object(Bucket=bucket, Key=item["Key"])
    database = Path(make_url(sqlite_url).database or "")
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        path.unlink(missing_ok=True)

    restore(settings, tmp_path / "backup")
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 7
    restored = create_app(settings)
    restored.config["TESTING"] = True
    try:
        assert _what_the_console_shows(restored) == before
    finally:
        restored.extensions["ivr"].close()
