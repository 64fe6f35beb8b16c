"""Issue 10, item 3: no exact timing of anonymous calls.

Start and end to the second, and the call's length, could be matched against the phone company's
records. After a full anonymous call through the webhooks and the workers, every time stored for
it (any date-time column of any row that belongs to the call) is cut to the configured resolution
(`IVR_ANONYMOUS_TIME_RESOLUTION_MINUTES`, an hour by default) and no call length or end is kept;
operators still see the day. Named calls keep exact times.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import DateTime, MetaData, select

from ivr.call_times import remember_settings
from ivr.models import Call
from ivr.settings import Settings
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.twilio_sim import FlaskTransport, Press, Silence, Talk, TwilioSimulator
from tests.workers.test_jobs_support import run_jobs, use_settings
from workers.deps import WorkerDeps
from workers.sweeper import sweep

ANONYMOUS = [Press("2"), Press("1"), Press("02"), Talk(6), Press("3"), Silence()]
NAMED = [Press("2"), Press("2"), Press("1"), Press("02"), Talk(6), Press("3"), Silence()]


def rows_of_call(app, call_sid: str) -> list[tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """Every row in the database that belongs to one call: its call, intakes, case, recordings,
    transcripts, audit events and anything else keyed by their ids."""
    engine = app.extensions["ivr"].engine
    metadata = MetaData()
    metadata.reflect(engine)
    tables = metadata.tables
    found: list[tuple[str, dict[str, Any]]] = []
    with engine.connect() as conn:
        call = conn.execute(select(tables["calls"]).where(tables["calls"].c.call_sid == call_sid)).mappings().one()
        ids = {"call_id": {call["id"]}}
        intakes, cases = tables["intakes"], tables["cases"]
        ids["intake_id"] = set(conn.scalars(select(intakes.c.id).where(intakes.c.call_id == call["id"])))
        ids["case_id"] = set(conn.scalars(select(cases.c.id).where(cases.c.call_id == call["id"])))
        found.append(("calls", dict(call)))
        for name, table in tables.items():
            for column, wanted in ids.items():
                if column in table.c and wanted:
                    for row in conn.execute(select(table).where(table.c[column].in_(wanted))).mappings():
                        found.append((name, dict(row)))
    return found


def stored_times(app, call_sid: str) -> list[tuple[str, str, datetime]]:  # type: ignore[no-untyped-def]
    """(table, column, value) of every date-time stored for the call."""
    engine = app.extensions["ivr"].engine
    metadata = MetaData()
    metadata.reflect(engine)
    times = []
    for table, row in rows_of_call(app, call_sid):
        for column in metadata.tables[table].c:
            if isinstance(column.type, DateTime) and row[column.name] is not None:
                value = row[column.name]
                times.append((table, column.name, value if value.tzinfo else value.replace(tzinfo=UTC)))
    return times


def full_call(app, fake_api: FakeTwilioApi, deps: WorkerDeps, script: list) -> str:  # type: ignore[no-untyped-def]
    sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN, public_base_url=PUBLIC_BASE_URL,
                          account_sid=ACCOUNT_SID, fake_api=fake_api, api_base_url=fake_api.base_url)
    result = sim.call(script, from_="+77019998877")
    assert result.recordings
    recording = result.recordings[0]
    run_jobs(deps.queue, until=lambda: bool(fake_api.requests_matching("DELETE", f"/Recordings/{recording}")))
    return result.call_sid


def test_anonymous_call_keeps_no_time_finer_than_the_hour(app, fake_api: FakeTwilioApi, deps: WorkerDeps,
                                                           clock: time_machine.Traveller) -> None:
    day = datetime.now(UTC).date()
    call_sid = full_call(app, fake_api, deps, ANONYMOUS)
    assert fake_api.requests_matching("DELETE", f"/Calls/{call_sid}")  # the workers went all the way

    times = stored_times(app, call_sid)
    assert {table for table, _, _ in times} >= {"calls", "intakes", "cases", "audit_events"}
    exact = [(t, c, v.isoformat()) for t, c, v in times if (v.minute, v.second, v.microsecond) != (0, 0, 0)]
    assert not exact, f"times finer than the hour: {exact}"
    assert all(v.date() == day for _, _, v in times)  # operators still see the day
    with app.extensions["ivr"].sessions() as session:
        call = session.scalars(select(Call).where(Call.call_sid == call_sid)).one()
        assert (call.is_anonymous, call.duration_s, call.ended_at) == (True, None, None)
    for table, row in rows_of_call(app, call_sid):
        if table == "audit_events":
            assert "duration_s" not in row["detail"] or row["action"] != "call.ended", row


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str, request: pytest.FixtureRequest) -> Settings:
    """The app's settings; parametrize indirectly with a resolution in minutes."""
    minutes = getattr(request, "param", 60)
    return make_settings(database_url=database_url, anonymous_time_resolution_minutes=minutes)


@pytest.mark.parametrize("settings", [15, 1440], indirect=True)
def test_the_resolution_is_a_setting(app, fake_api: FakeTwilioApi, deps: WorkerDeps, settings: Settings) -> None:
    minutes = settings.anonymous_time_resolution_minutes
    worker = use_settings(deps, anonymous_time_resolution_minutes=minutes)
    remember_settings(worker.sessions, worker.settings)
    call_sid = full_call(app, fake_api, worker, ANONYMOUS)
    times = stored_times(app, call_sid)
    assert times
    for table, column, value in times:
        assert (value.hour * 60 + value.minute) % minutes == 0 and (value.second, value.microsecond) == (0, 0), (
            table, column, value)


def test_named_call_keeps_exact_times(app, fake_api: FakeTwilioApi, deps: WorkerDeps) -> None:
    call_sid = full_call(app, fake_api, deps, NAMED)
    with app.extensions["ivr"].sessions() as session:
        call = session.scalars(select(Call).where(Call.call_sid == call_sid)).one()
        assert call.is_anonymous is False
        assert call.duration_s is not None and call.ended_at is not None
        assert (call.started_at.second, call.started_at.microsecond) != (0, 0)


def test_anonymous_call_leaves_no_exact_time_on_disk_or_in_redis(app, fake_api: FakeTwilioApi, deps: WorkerDeps,
                                                                   settings: Settings,
                                                                   clock: time_machine.Traveller) -> None:
    import os

    import redis as redis_lib

    call_sid = full_call(app, fake_api, deps, ANONYMOUS)
    # Recording files and their folders: modified "at" the start of the hour, not at the call.
    stored = [p for p in settings.recordings_dir.rglob("*")]
    assert any(p.is_file() for p in stored)
    for path in stored:
        mtime = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
        assert (mtime.minute, mtime.second, mtime.microsecond) == (0, 0, 0), (path, mtime)
    # Redis: no note of the call (its key's TTL would date it), and, after the next sweep, no
    # record of the finished jobs that worked on it (their hashes keep exact times).
    client = redis_lib.Redis.from_url(settings.redis_url)
    app.extensions["ivr"].tracker.flush()
    assert any(key.startswith(b"rq:job:") for key in client.keys("*"))  # there were job records
    report = sweep(deps.sessions, deps.queue, settings=deps.settings)
    assert report.dropped
    for key in client.keys("*"):
        assert call_sid.encode() not in key, key
        assert not key.startswith((b"rq:job:", b"rq:results:")), key
        if client.type(key) == b"hash":
            assert not any(call_sid.encode() in value for value in client.hvals(key)), key
        if client.type(key) == b"zset":
            assert client.zcard(key) == 0, key
