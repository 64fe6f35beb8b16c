"""Sentinel for real: the line follows a Redis failover while calls are in flight and jobs are queued.

Real processes on loopback (bench.rehearsal's layout): a primary and a replica redis-server, three
redis-sentinels, gunicorn behind HAProxy, `ivr worker` and `ivr sweep --forever`, all configured
with a redis+sentinel:// REDIS_URL. The primary is SIGKILLed while 50 calls are in flight.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rq import Queue

from bench.rehearsal import CallOutcome, Layout, Options, ReadyWatch, check_outcomes, run_calls, wait_for
from ivr.queueing import make_redis

pytestmark = pytest.mark.slow
CALLS = 50
DEGRADED_BUDGET_S = 15.0


def test_fifty_calls_in_flight_survive_a_failover_and_every_report_becomes_one_case(tmp_path: Path) -> None:
    with Layout(tmp_path, Options(webs=2, workers=1, postgres=False, s3=False)) as layout:
        assert layout.redis is not None
        first_master = layout.redis.master_port()
        queue = Queue("intake", connection=make_redis(layout.redis.url, patient=True))
        seen: dict[str, float] = {}

        def kill_primary(done: list[CallOutcome]) -> None:
            assert layout.redis is not None
            wait_for(lambda: len(done) >= 10, 120, "ten calls through", interval_s=0.01)
            seen["queued"] = queue.count + queue.started_job_registry.count
            seen["in_flight"] = CALLS - len(done)
            old = layout.redis.kill_master()
            seen["killed_at"] = time.monotonic()
            seen["new_master"] = layout.redis.wait_for_failover(old)
            seen["failover_s"] = time.monotonic() - seen["killed_at"]

        with ReadyWatch(layout) as watch:
            outcomes = run_calls(layout, CALLS, concurrency=CALLS, during=kill_primary)
            tally = check_outcomes(layout, outcomes, settle_s=180)
            degraded_s = watch.degraded_s(seen["killed_at"])
        print(
            f"failover {seen['failover_s']:.1f} s; /readyz said Redis down for {degraded_s:.1f} s; "
            f"{int(seen['in_flight'])} calls in flight and {int(seen['queued'])} jobs queued at the kill; {tally}"
        )
        assert seen["new_master"] != first_master
        assert seen["in_flight"] > 0 and seen["queued"] > 0  # the kill really hit work in progress
        assert tally.cases == CALLS
        # Jobs after the failover ran on the new master: the intake queue there drains (the sweeper
        # may have just queued a follow-up, e.g. a release at Twilio, as the cases settled).
        wait_for(lambda: queue.count == 0, 30, "the intake queue drained", interval_s=0.2)
        assert degraded_s < DEGRADED_BUDGET_S
