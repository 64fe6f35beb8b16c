"""Alembic owns the schema; `upgrade()` brings any database to the newest revision."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.pool import NullPool

HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    """An Alembic config for this package's migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head", *, data_keys: Mapping[str, bytes] | None = None) -> None:
    """Migrate the database to `revision` (safe to run on every start; several hosts may race).

    `data_keys` (settings.data_keys) encrypt report text still stored plain (migration 0004);
    without them a migration that needs them reads the environment's.
    """
    config = alembic_config(database_url)
    if data_keys is not None:
        config.attributes["data_keys"] = dict(data_keys)
    with migration_lock(database_url):
        command.upgrade(config, revision)
        tables: list[str] = config.attributes.get("compact_tables") or []
        if tables:
            compact(database_url, tables)


# Any constant works, as long as every host uses the same one: it names the lock, not a row.
MIGRATION_LOCK_ID = 1424_0001


@contextmanager
def migration_lock(database_url: str) -> Iterator[None]:
    """Hold PostgreSQL's advisory lock while migrating, so hosts started together migrate one by one.

    Without it, several `ivr db upgrade` (a deploy restarting every host) run the same DDL at once
    and deadlock or fail on "already exists". The lock lives on its own connection, outside the
    migration's transaction, and is released when that connection closes, even if we crash.
    SQLite needs none: its writers are serialised by the file lock.
    """
    from sqlalchemy import create_engine

    if not database_url.startswith("postgresql"):
        yield
        return
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
    finally:
        engine.dispose()


def compact(database_url: str, tables: list[str]) -> None:
    """Rewrite tables whose plain text was just encrypted, so no old value lingers on disk.

    PostgreSQL keeps old row versions and dropped columns' values until a rewrite; SQLite keeps
    freed pages and its write-ahead log. Backups and archived WAL made before stay plain.
    """
    from sqlalchemy import create_engine

    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("VACUUM")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                conn.exec_driver_sql("VACUUM FULL " + ", ".join(f'"{table}"' for table in tables))
    finally:
        engine.dispose()
