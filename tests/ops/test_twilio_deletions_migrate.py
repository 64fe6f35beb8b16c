"""Migration 0008: Twilio's deletion of a call's log is recorded once, on the call, for old cases too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.services import empty_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, to migrate step by step."""
    with empty_database(request.param, tmp_path) as url:
        yield url


def test_case_deletion_time_moves_onto_its_call(empty_database_url: str) -> None:
    from ivr.migrations import upgrade

    upgrade(empty_database_url, "0007")
    engine = create_engine(empty_database_url)
    with engine.begin() as conn:
        for call_id, sid in ((1, "CA" + "1" * 32), (2, "CA" + "2" * 32)):
            conn.execute(text(
                "INSERT INTO calls (id, call_sid, flow_name, flow_version, is_anonymous, is_urgent, pin_failures, "
                "status, is_recovered, started_at) VALUES "
                "(:id, :sid, 'public', 'v1', true, false, 0, 'completed', false, '2026-11-25 12:00:00')"
            ), {"id": call_id, "sid": sid})
            conn.execute(text(
                "INSERT INTO cases (id, call_id, reference, status, is_anonymous, is_urgent, has_new_info, "
                "is_recovered, transcript_status, call_deleted_at_twilio, created_at, updated_at) VALUES "
                "(:id, :id, :ref, 'new', true, false, false, false, 'done', :deleted, "
                "'2026-11-25 12:00:00', '2026-11-25 12:00:00')"
            ), {"id": call_id, "ref": f"1234567{call_id}", "deleted": "2026-11-25 12:30:00" if call_id == 1 else None})
    upgrade(empty_database_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, deleted_at_twilio FROM calls ORDER BY id")).all())
    engine.dispose()
    assert rows[1] is not None and str(rows[1]).startswith("2026-11-25 12:30:00")
    assert rows[2] is None
