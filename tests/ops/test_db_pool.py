"""PostgreSQL in production: the pool and the statement timeout come from the settings (issue 17.3)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from ivr.db import engine_for
from ivr.settings import Settings, load_settings
from tests.support.services import MigratedTemplates


@pytest.fixture
def pg_url(migrated_templates: MigratedTemplates, tmp_path: Path) -> Iterator[str]:
    """A migrated PostgreSQL schema of this test's own (a copy of the session's template)."""
    with migrated_templates.database("postgresql", tmp_path) as url:
        yield url


def test_settings_read_the_pool_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's variable names set the pool and the timeout."""
    monkeypatch.setenv("IVR_ENV_FILE", "")
    monkeypatch.setenv("IVR_DB_POOL_SIZE", "12")
    monkeypatch.setenv("IVR_DB_MAX_OVERFLOW", "3")
    monkeypatch.setenv("IVR_DB_POOL_TIMEOUT_S", "2.5")
    monkeypatch.setenv("IVR_DB_STATEMENT_TIMEOUT_MS", "4000")
    settings = load_settings()
    assert (settings.db_pool_size, settings.db_max_overflow) == (12, 3)
    assert (settings.db_pool_timeout_s, settings.db_statement_timeout_ms) == (2.5, 4000)


def test_a_statement_over_the_timeout_is_cancelled(
    make_settings: Callable[..., Settings], pg_url: str
) -> None:
    """A query longer than IVR_DB_STATEMENT_TIMEOUT_MS is cancelled by the server, and the URL's
    own options (here the test schema's search_path) still hold."""
    engine = engine_for(make_settings(database_url=pg_url, db_statement_timeout_ms=300))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "300ms"
            assert conn.execute(text("SELECT current_schema()")).scalar_one().startswith("ivr_test_")
            assert conn.execute(text("SELECT count(*) FROM calls")).scalar_one() == 0
            started = time.monotonic()
            with pytest.raises(sqlalchemy.exc.OperationalError, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(5)"))
            assert time.monotonic() - started < 3
        with engine.connect() as conn:  # the pool hands out a working connection afterwards
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_zero_means_no_statement_timeout(make_settings: Callable[..., Settings], pg_url: str) -> None:
    """0 leaves PostgreSQL's own default (no limit)."""
    engine = engine_for(make_settings(database_url=pg_url, db_statement_timeout_ms=0))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"
    finally:
        engine.dispose()


def test_the_pool_is_bounded_and_waits_at_most_the_pool_timeout(
    make_settings: Callable[..., Settings], pg_url: str
) -> None:
    """pool_size + max_overflow connections at most; one more waits db_pool_timeout_s, then fails."""
    engine = engine_for(
        make_settings(database_url=pg_url, db_pool_size=2, db_max_overflow=1, db_pool_timeout_s=0.5)
    )
    held = []
    try:
        held = [engine.connect() for _ in range(3)]
        for conn in held:
            conn.execute(text("SELECT 1"))
        started = time.monotonic()
        with pytest.raises(sqlalchemy.exc.TimeoutError):
            engine.connect()
        assert 0.4 < time.monotonic() - started < 3
    finally:
        for conn in held:
            conn.close()
        engine.dispose()


def test_the_app_and_workers_use_the_settings(make_settings: Callable[..., Settings], pg_url: str) -> None:
    """The web app's engine and the workers' engine carry the timeout and pool size."""
    from ivr.services import Services
    from workers.deps import WorkerDeps

    settings = make_settings(database_url=pg_url, db_statement_timeout_ms=1234, db_pool_size=7)
    services = Services.from_settings(settings)
    deps = WorkerDeps.from_settings(settings)
    try:
        for engine in (services.engine, deps.engine):
            assert engine.pool.size() == 7  # type: ignore[attr-defined]
            with engine.connect() as conn:
                assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1234ms"
    finally:
        services.close()
        deps.engine.dispose()


def test_sqlite_ignores_the_server_options(make_settings: Callable[..., Settings], sqlite_url: str) -> None:
    """The same settings on SQLite build a working engine (the pool options tune servers only)."""
    engine = engine_for(make_settings(database_url=sqlite_url, db_statement_timeout_ms=100, db_pool_size=1))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM calls")).scalar_one() == 0
    finally:
        engine.dispose()
