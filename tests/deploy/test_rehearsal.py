"""A rehearsal of the production layout on one machine (bench.rehearsal): two gunicorns behind
HAProxy, two `ivr worker`s, the sweeper, Sentinel-managed Redis, PostgreSQL and S3 (moto's server).

Calls run while one web process, one worker and the Redis primary are SIGKILLed in turn: every
caller's TwiML is answered 200, none cut (HAProxy re-sends what a dead web process never answered,
and a reply leaves gunicorn in one write, so none is half sent: test_crash_mid_reply.py); no report
is lost, none becomes two cases.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bench.rehearsal import Layout, Options, rehearse
from ivr.models import StoredRecording
from tests.support.services import postgres_available

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
CALLS_PER_PHASE = 30


def test_calls_survive_losing_a_web_process_a_worker_and_the_redis_primary(tmp_path: Path) -> None:
    if not postgres_available():
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is needed (tests/run.sh starts it)")
    with Layout(tmp_path, Options(webs=2, workers=2, postgres=True, s3=True)) as layout:
        figures = rehearse(layout, calls_per_phase=CALLS_PER_PHASE, concurrency=10)
        # What the kills left: one web, one worker, one Redis; the line still answered throughout.
        assert [web.alive() for web in layout.webs] == [False, True]
        assert [worker.alive() for worker in layout.workers] == [False, True]
        assert layout.redis is not None and len(layout.redis.servers) == 1
        objects = s3_objects(layout)
        with layout.sessions() as session:
            expected = {key for row in session.scalars(select(StoredRecording))
                        for key in (row.storage_key, row.disguised_key) if key}
    print(", ".join(f"{name} {value:.1f}" for name, value in figures.items() if not name.endswith("_at")))
    # Every call answered 200 throughout (rehearse() checks), each its one case.
    assert figures["calls"] == figures["cases"] == 3 * CALLS_PER_PHASE
    # Every report's recording (and, the callers being anonymous, its disguised copy) is in S3, once.
    assert len(expected) >= figures["cases"] and objects == expected


def s3_objects(layout: Layout) -> set[str]:
    """The names of the objects in the recordings bucket."""
    import boto3

    env = layout.env
    client = boto3.client(
        "s3", endpoint_url=env["IVR_S3_ENDPOINT_URL"], region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=env["IVR_S3_BUCKET"])
    return {item["Key"] for page in pages for item in page.get("Contents", [])}
