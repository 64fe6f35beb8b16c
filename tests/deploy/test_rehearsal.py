"""A rehearsal of the production layout on one machine (bench.rehearsal): two gunicorns behind
HAProxy, two `ivr worker`s, the sweeper, Sentinel-managed Redis, PostgreSQL and S3 (moto's server).

Calls run while one web process, one worker and the Redis primary are SIGKILLed in turn: every
caller's TwiML is answered 200, no report is lost, none becomes two cases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.rehearsal import Layout, Options, rehearse
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
        stored = s3_objects(layout)
    print(", ".join(f"{name} {value:.1f}" for name, value in figures.items() if not name.endswith("_at")))
    assert figures["calls"] == figures["cases"] == 3 * CALLS_PER_PHASE
    assert stored == 3 * CALLS_PER_PHASE  # every recording went to S3, encrypted, once


def s3_objects(layout: Layout) -> int:
    """How many objects the recordings bucket holds."""
    import boto3

    env = layout.env
    client = boto3.client(
        "s3", endpoint_url=env["IVR_S3_ENDPOINT_URL"], region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=env["IVR_S3_BUCKET"])
    return sum(len(page.get("Contents", [])) for page in pages)
