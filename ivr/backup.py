"""`ivr backup DEST` and `ivr restore SRC`: the database and the encrypted recordings, with checksums.

A backup is a folder (0700, files 0600):

- ``database.sqlite3`` (SQLite's online backup API: a consistent copy while the line runs) or
  ``database.pgdump`` (``pg_dump --format=custom`` of the line's schema: one snapshot);
- ``recordings/<key>``: every blob of the recording store exactly as stored, still encrypted;
- ``manifest.json``: the SHA-256 and size of every file, the schema revision, and the ids and
  fingerprints of the data keys the recordings and report text need.

The keys are never in it: a backup alone is unreadable, like the database it copies. The
fingerprint is a hash of the key (it reveals nothing of it) so a restore can say whether the
key configured under an id is the one the backup was made with.

The database is copied first, then the recordings, so every recording the copied database names
is in the backup (recordings are written before the rows naming them; retention may delete one
in between, which the copied database then names in vain, as it would have a day later).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from ivr.crypto import Cipher
from ivr.private_files import PRIVATE_FILE, private_dir, write_private_bytes
from ivr.storage.local import stored_keys

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
RECORDINGS = "recordings"
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why in one line."""


def key_fingerprint(key: bytes) -> str:
    """A one-way tag of a data key: equal tags mean the same key, and it reveals nothing of it."""
    return hashlib.sha256(b"ivr-1424 data key fingerprint:" + key).hexdigest()[:16]


# --------------------------------------------------------------------------- recording blobs


class BlobStore(Protocol):
    """The recording store's blobs as stored (encrypted), for copying them out and back in."""

    def names(self) -> Iterator[str]:
        """Every stored key."""
        ...

    def get(self, key: str) -> bytes:
        """The stored blob under `key`, as it is on disk or in the bucket."""
        ...

    def put(self, key: str, blob: bytes) -> None:
        """Store `blob` under `key` as it is (it is encrypted already)."""
        ...


class LocalBlobs:
    """Blobs as files under the recordings folder (the layout of the local recording store)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def names(self) -> Iterator[str]:
        """Every stored key, as the local recording store lists them."""
        return stored_keys(self.root)

    def get(self, key: str) -> bytes:
        """The file's bytes."""
        return (self.root / key).read_bytes()

    def put(self, key: str, blob: bytes) -> None:
        """Write the file 0600 in 0700 folders, atomically (temp file, fsync, rename)."""
        write_private_bytes(self.root / key, blob)


class S3Blobs:
    """Blobs as objects in the recordings bucket."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def names(self) -> Iterator[str]:
        """Every object's key, following S3's pagination."""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                yield str(item["Key"])

    def get(self, key: str) -> bytes:
        """The object's bytes."""
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def put(self, key: str, blob: bytes) -> None:
        """Upload the object as it is."""
        self.client.put_object(Bucket=self.bucket, Key=key, Body=blob, ContentType="application/octet-stream")


def blob_store(settings: Any) -> BlobStore:
    """The recording store the settings name, as raw blobs."""
    if settings.recording_store == "s3":
        if not settings.s3_bucket:
            raise BackupError("IVR_S3_BUCKET is required when IVR_RECORDING_STORE=s3")
        import boto3

        return S3Blobs(boto3.client("s3", endpoint_url=settings.s3_endpoint_url or None), settings.s3_bucket)
    return LocalBlobs(settings.recordings_dir)


# --------------------------------------------------------------------------- files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _entry(root: Path, relative: str) -> dict[str, Any]:
    path = root / relative
    return {"path": relative, "sha256": _sha256(path), "size": path.stat().st_size}


# --------------------------------------------------------------------------- database


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("DATABASE_URL: an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _pg_env(url: str) -> dict[str, str]:
    """libpq's environment for `url`: the password stays out of the command line (and `ps`)."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", str(parsed.port) if parsed.port else None),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value:
            env[name] = str(value)
    options = parsed.query.get("options")
    if options:
        env["PGOPTIONS"] = " ".join(options) if isinstance(options, tuple) else options
    return env


def _schema_and_revision(url: str) -> tuple[str | None, str | None]:
    """The schema our tables live in (PostgreSQL) and the Alembic revision, or None if not migrated."""
    from ivr.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            schema = None if _is_sqlite(url) else str(conn.execute(text("SELECT current_schema()")).scalar_one())
            if "alembic_version" not in inspect(conn).get_table_names():
                return schema, None
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return schema, None if revision is None else str(revision)
    finally:
        engine.dispose()


def _table_names(url: str) -> list[str]:
    from ivr.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _run(command: list[str], env: Mapping[str, str]) -> str:
    try:
        done = subprocess.run(command, env=dict(env), capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed (apt install postgresql-client)") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no message"]
        # The first error names the cause; what follows quotes the statement it was running.
        cause = next((line for line in lines if "ERROR" in line or "error:" in line), lines[-1])
        raise BackupError(f"{command[0]} failed: {cause.strip()}")
    return done.stdout


def _dump_database(url: str, dest: Path) -> dict[str, Any]:
    schema, revision = _schema_and_revision(url)
    if revision is None:
        raise BackupError("the database has no schema yet (run `ivr db upgrade`); nothing to back up")
    if _is_sqlite(url):
        target = dest / SQLITE_FILE
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        source = sqlite3.connect(f"file:{_sqlite_path(url)}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # one consistent snapshot, while writers go on
        finally:
            copy.close()
            source.close()
        return {"kind": "sqlite", "file": SQLITE_FILE, "revision": revision}
    target = dest / PG_FILE
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--schema={schema}",
          f"--file={target}"], _pg_env(url))
    return {"kind": "postgresql", "file": PG_FILE, "schema": schema, "revision": revision}


def _restore_database(url: str, src: Path, database: Mapping[str, Any], *, force: bool) -> None:
    if (database["kind"] == "sqlite") != _is_sqlite(url):
        raise BackupError(f"the backup holds a {database['kind']} database; DATABASE_URL names another kind")
    tables = _table_names(url) if not _is_sqlite(url) or _sqlite_path(url).exists() else []
    if tables and not force:
        raise BackupError(
            f"the database is not empty ({len(tables)} tables); restore into an empty one, or add --force"
        )
    if _is_sqlite(url):
        path = _sqlite_path(url)
        from ivr.db import make_engine

        engine = make_engine(url)  # creates the file private, with WAL, as the line opens it
        engine.dispose()
        source = sqlite3.connect(f"file:{src / database['file']}?mode=ro", uri=True)
        target = sqlite3.connect(path)
        try:
            source.backup(target)  # replaces every page of the target, in one step
        finally:
            target.close()
            source.close()
        return
    schema, _ = _schema_and_revision(url)
    if schema != database["schema"]:
        raise BackupError(
            f"the backup holds schema {database['schema']!r}; DATABASE_URL uses {schema!r} (set its search_path)"
        )
    env = _pg_env(url)
    if tables:  # --force: the old tables go first, in one statement, so nothing of them mixes in
        quoted = ", ".join(f'"{schema}"."{name}"' for name in tables)
        from ivr.db import make_engine

        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text(f"DROP TABLE IF EXISTS {quoted} CASCADE"))
        finally:
            engine.dispose()
    # The schema itself exists already (an empty database has it): restore what is inside it.
    listing = _run(["pg_restore", "--list", str(src / database["file"])], env)
    keep = [line for line in listing.splitlines() if f" SCHEMA - {schema} " not in f"{line} "]
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as handle:
        handle.write("\n".join(keep) + "\n")
    try:
        # --force: whatever else the dump creates (the audit trail's trigger function) goes too.
        clean = ["--clean", "--if-exists"] if tables else []
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", *clean,
              f"--use-list={handle.name}", f"--dbname={env.get('PGDATABASE', '')}",
              str(src / database["file"])], env)
    finally:
        os.unlink(handle.name)


# --------------------------------------------------------------------------- backup and restore


def backup(settings: Any, dest: Path) -> dict[str, Any]:
    """Copy the database and every recording blob into the new folder `dest`; returns the manifest."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty folder; give a new one")
    private_dir(dest)
    os.chmod(dest, 0o700)
    try:
        database = _dump_database(settings.database_url, dest)
        store = blob_store(settings)
        key_ids: set[str] = {settings.data_key_id}
        keys: list[str] = []
        for key in store.names():
            blob = store.get(key)
            key_ids.add(Cipher.key_id_of(blob))
            write_private_bytes(dest / RECORDINGS / key, blob)
            keys.append(key)
        configured = settings.data_keys
        unknown = sorted(key_ids - set(configured))
        files = [_entry(dest, database["file"])] + [_entry(dest, f"{RECORDINGS}/{key}") for key in keys]
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": database,
            "recordings": {"store": settings.recording_store, "count": len(keys)},
            # Which keys the data needs: ids and fingerprints only, never the keys themselves.
            "data_keys": {
                key_id: key_fingerprint(configured[key_id]) if key_id in configured else None
                for key_id in sorted(key_ids)
            },
            "current_key_id": settings.data_key_id,
            "files": files,
        }
        if unknown:
            manifest["missing_keys"] = unknown
        write_private_bytes(dest / MANIFEST, json.dumps(manifest, indent=1).encode())
        return manifest
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # a half backup must not pass for a whole one
        raise


def verify(src: Path) -> dict[str, Any]:
    """The manifest of the backup in `src`, once every file's size and SHA-256 match and none is extra."""
    src = Path(src)
    try:
        manifest: dict[str, Any] = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{src}: no {MANIFEST}; not a backup") from None
    except ValueError:
        raise BackupError(f"{src / MANIFEST}: not readable JSON") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src}: backup format {manifest.get('format')!r}; this version reads {FORMAT}")
    listed = {entry["path"] for entry in manifest["files"]}
    problems = []
    for entry in manifest["files"]:
        path = src / entry["path"]
        if not path.is_file():
            problems.append(f"missing: {entry['path']}")
        elif path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            problems.append(f"checksum differs: {entry['path']}")
    on_disk = {f"{RECORDINGS}/{key}" for key in LocalBlobs(src / RECORDINGS).names()}
    problems += [f"not in the manifest: {path}" for path in sorted(on_disk - listed)]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise BackupError(f"{src}: the backup does not match its manifest ({shown}); nothing was restored")
    return manifest


def restore(settings: Any, src: Path, *, force: bool = False) -> dict[str, Any]:
    """Restore the backup in `src` into this deployment (empty unless `force`), after verifying it."""
    src = Path(src)
    manifest = verify(src)
    configured = settings.data_keys
    wrong = []
    for key_id, fingerprint in manifest["data_keys"].items():
        if key_id not in configured:
            wrong.append(f"{key_id} is not configured (IVR_DATA_KEY / IVR_OLD_DATA_KEYS)")
        elif fingerprint is not None and key_fingerprint(configured[key_id]) != fingerprint:
            wrong.append(f"the key configured as {key_id} is not the one this backup was made with")
    if wrong:
        raise BackupError("the data keys do not fit this backup: " + "; ".join(wrong) + "; nothing was restored")
    store = blob_store(settings)
    if not force and next(iter(store.names()), None) is not None:
        raise BackupError("the recording store is not empty; restore into an empty one, or add --force")
    _restore_database(settings.database_url, src, manifest["database"], force=force)
    for entry in manifest["files"]:
        if entry["path"].startswith(f"{RECORDINGS}/"):
            store.put(entry["path"][len(RECORDINGS) + 1 :], (src / entry["path"]).read_bytes())
    return manifest


# --------------------------------------------------------------------------- the commands


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `ivr backup` and `ivr restore` to the `ivr` command."""
    make = sub.add_parser("backup", help="copy the database and the encrypted recordings into a new folder")
    make.add_argument("dest", type=Path, help="a new (or empty) folder")
    make.set_defaults(func=cmd_backup)
    back = sub.add_parser("restore", help="restore a backup into an empty deployment (checksums first)")
    back.add_argument("src", type=Path, help="a folder `ivr backup` made")
    back.add_argument("--force", action="store_true", help="restore over a database and store that are not empty")
    back.set_defaults(func=cmd_restore)


def cmd_backup(args: argparse.Namespace) -> int:
    """`ivr backup DEST`."""
    from ivr.settings import load_settings

    try:
        manifest = backup(load_settings(), args.dest)
    except BackupError as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    database = manifest["database"]
    print(f"backed up the {database['kind']} database (revision {database['revision']}) and "
          f"{manifest['recordings']['count']} recordings to {args.dest}")
    print("it needs the data keys " + ", ".join(manifest["data_keys"]) + " to be read; they are not in it")
    if manifest.get("missing_keys"):
        print("warning: recordings under keys this host does not have: " + ", ".join(manifest["missing_keys"]),
              file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """`ivr restore SRC [--force]`."""
    from ivr.settings import load_settings

    try:
        manifest = restore(load_settings(), args.src, force=args.force)
    except BackupError as exc:
        print(f"restore refused: {exc}", file=sys.stderr)
        return 1
    database = manifest["database"]
    print(f"restored the {database['kind']} database (revision {database['revision']}) and "
          f"{manifest['recordings']['count']} recordings from {args.src}; "
          "run `ivr db upgrade` if this code is newer than the backup")
    return 0
