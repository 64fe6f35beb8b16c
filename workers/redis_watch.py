"""A worker's view of Redis: one log line when it goes away, one when it is back.

Without this a worker whose Redis is down crashed at start (and was restarted every few
seconds with a long traceback), and one whose Redis went away mid-run logged a retry line every
two seconds from each of RQ's threads plus a raw traceback from its scheduler process. Now the
worker waits with back-off, a watch thread says when the state changes, and RQ's own retry
lines for the same outage are left out.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import rq.scheduler
import rq.worker.base
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ivr.logging import get_logger

log = get_logger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
CHECK_INTERVAL_S = 2.0
MAX_BACKOFF_S = 30.0


class RedisWatch:
    """Tracks whether Redis answers and logs each change once."""

    def __init__(self, redis: Redis, *, interval_s: float = CHECK_INTERVAL_S) -> None:
        self.redis = redis
        self.interval_s = interval_s
        self.is_up: bool | None = None  # unknown until the first ping
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """Ping Redis now; log if the answer differs from the last one."""
        try:
            self.redis.ping()
            up, error = True, ""
        except REDIS_DOWN as exc:
            up, error = False, type(exc).__name__
        with self._lock:
            changed, self.is_up = up != self.is_up, up
        if changed and not up:
            log.warning("redis.unreachable", error=error, hint="jobs wait; the worker retries with back-off")
        elif changed and up:
            log.info("redis.reachable")
        return up

    def wait_until_up(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Return once Redis answers, pausing 1, 2, 4 ... 30 s between tries."""
        pause = 1.0
        while not self.check():
            sleep(pause)
            pause = min(MAX_BACKOFF_S, pause * 2)

    def start(self) -> RedisWatch:
        """Keep checking in the background, so an outage mid-run is reported too."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="redis-watch", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            time.sleep(self.interval_s)
            self.check()


class _QuietRedisRetries(logging.Filter):
    """Drops RQ's per-retry lines about an unreachable Redis: the watch reports the outage once."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "could not connect to Redis" in message:
            return False
        if "raised an exception" in message and ("ConnectionError" in message or "TimeoutError" in message):
            return False  # the scheduler's own traceback of the same outage
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, REDIS_DOWN)


class _QuietScheduler(rq.scheduler.RQScheduler):
    """RQ's scheduler process, ending without a raw traceback when Redis goes away.

    The worker starts a new one once Redis is back (its maintenance checks that it lives).
    """

    def start(self):  # type: ignore[no-untyped-def]
        """Fork the scheduler process (as RQ does) around a quiet loop."""
        self._status = self.Status.STARTED
        self._connection = None  # a Redis connection cannot cross the fork
        process = rq.scheduler.ForkProcess(target=_run_scheduler_quietly, args=(self,), name="Scheduler")
        self._process = process  # type: ignore[assignment]  # RQ annotates it as always None
        process.start()
        return process


def _run_scheduler_quietly(scheduler: rq.scheduler.RQScheduler) -> None:
    # The watch in the worker has said Redis is gone; a traceback per outage helps nobody.
    with contextlib.suppress(*REDIS_DOWN):
        rq.scheduler.run(scheduler)  # type: ignore[no-untyped-call]


def watch_redis(redis: Redis) -> RedisWatch:
    """Quiet RQ's retry noise in this process and start watching Redis."""
    quiet = _QuietRedisRetries()
    for name in ("rq.worker", "rq.scheduler", "rq.queue", "rq.job"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QuietRedisRetries) for f in logger.filters):
            logger.addFilter(quiet)
    rq.worker.base.RQScheduler = _QuietScheduler  # type: ignore[attr-defined]  # RQ names its class there
    return RedisWatch(redis).start()
