"""`ivr db upgrade` on several hosts at once: one migrates, the others wait and find nothing to do."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text

from tests.support.services import postgres_available, postgres_schema


@pytest.mark.postgres
def test_parallel_upgrades_of_an_empty_postgresql_database_all_succeed() -> None:
    from ivr.migrations import upgrade

    if not postgres_available():
        pytest.fail("PostgreSQL is not reachable at IVR_TEST_POSTGRES_URL (tests/run.sh starts one)")
    with postgres_schema() as url:
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def host() -> None:
            start.wait()
            try:
                upgrade(url)
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=host, daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not any(thread.is_alive() for thread in threads), "an upgrade hung (deadlocked DDL)"
        assert errors == []
        engine = create_engine(url)
        with engine.connect() as conn:
            versions = conn.execute(text("select version_num from alembic_version")).scalars().all()
        engine.dispose()
        assert len(versions) == 1
